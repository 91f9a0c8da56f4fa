/* The inner loop of idle.idle_run for an upright episode at rest (and for frames with no
 * rest pose yet), compiled: the same arithmetic in the same order as the Python loop in
 * idle.py, so the results are bit for bit the same (tests/signal/exercise/test_idle.py runs
 * both, and the frame-by-frame tracker, on every fixture and compares every event and the
 * whole saved state). A change to the Python loop must be made here too.
 *
 * Why C: on a day of office life 84 % of the exercise tracker's frames go through this loop,
 * at ~6 us a frame in Python (idle runs 4.9-6.1 s of a 24 h day at 50 Hz, 2.7 s with this;
 * issue 13). Plain C with Python's buffer protocol: no numpy headers, no run-time dependency;
 * where the module is not built, idle.py runs its Python loop. (numba would add 115 MB of
 * memory to a process that must stay under 200 MB.)
 *
 * Floating point: IEEE double as CPython's float (x86-64 SSE2 / aarch64), no contraction
 * into fused multiply-adds (-ffp-contract=off in setup.py), acos/atan2/sqrt/pow from
 * the same libm CPython's math module calls. pow goes through a volatile pointer so the
 * compiler cannot turn pow(x, 2.0) into x * x: CPython's float ** 2 calls pow().
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>

/* params: read only */
enum { P_FRAME_S, P_SPEED_TAU, P_HOLD_TAU, P_STILL_DPS, P_MOVING, P_QUIET, P_UP_MIN_Z,
       P_NOISE_K, P_NOISE_MAX, P_REP_FLOOR, P_TOO_FAR, P_O0, P_O1, P_O2, P_W0, P_W1, P_W2,
       P_OFF_FRAC, P_DA, P_DA1, P_BLOCK_S, P_HALF_BLOCK, P_DEG, P_MEASURE, P_UNANNOUNCED,
       P_SUPINE_TAN, P_CAND_ON, P_CAND_END, P_CAND_GAP, N_PARAMS };
/* state: read and written back */
enum { S_PREV_T, S_P0, S_P1, S_P2, S_SPEED, S_DYN, S_QUIET_T, S_HAS_QUIET_T, S_L0, S_L1, S_L2,
       S_HOLD_SPEED, S_R0, S_R1, S_R2, S_REST_MOVED, S_NOISE2, S_LAST_M_FULL, S_F_BLOCK,
       S_HAS_F_BLOCK, S_F_SUM, S_F_N, S_CAND_LIVE, N_STATE };

static double (*volatile pow_fn)(double, double) = pow;

static int get_buf(PyObject *obj, Py_buffer *view, int writable, Py_ssize_t min_bytes,
                   const char *name) {
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0)) < 0)
        return -1;
    if (view->len < min_bytes) {
        PyErr_Format(PyExc_ValueError, "%s: %zd bytes, need %zd", name, view->len, min_bytes);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static PyObject *rest_run(PyObject *self, PyObject *args) {
    PyObject *o_t, *o_up, *o_dyn, *o_eff, *o_par, *o_st, *o_still, *o_m, *o_xyz, *o_adds;
    Py_ssize_t i, n;
    if (!PyArg_ParseTuple(args, "OOOOnnOOOOOO", &o_t, &o_up, &o_dyn, &o_eff, &i, &n, &o_par,
                          &o_st, &o_still, &o_m, &o_xyz, &o_adds))
        return NULL;
    if (i < 0 || n < i) {
        PyErr_SetString(PyExc_ValueError, "need 0 <= i <= n");
        return NULL;
    }
    Py_buffer b_t, b_up, b_dyn, b_eff, b_par, b_st, b_still, b_m, b_xyz, b_adds;
    Py_buffer *bufs[10] = {&b_t, &b_up, &b_dyn, &b_eff, &b_par, &b_st, &b_still, &b_m, &b_xyz,
                           &b_adds};
    PyObject *objs[10] = {o_t, o_up, o_dyn, o_eff, o_par, o_st, o_still, o_m, o_xyz, o_adds};
    const int writable[10] = {0, 0, 0, 0, 0, 1, 1, 1, 1, 1};
    const char *names[10] = {"t", "up", "dyn", "eff", "params", "state", "still", "m", "xyz",
                             "adds"};
    const Py_ssize_t d = sizeof(double), k = n - i;
    const Py_ssize_t need[10] = {n * d, 3 * n * d, n * d, n * d, N_PARAMS * d, N_STATE * d, k,
                                 k * d, 3 * k * d, k * d};
    int got = 0;
    for (; got < 10; got++)
        if (get_buf(objs[got], bufs[got], writable[got], need[got], names[got]) < 0)
            break;
    if (got < 10) {
        for (int q = 0; q < got; q++)
            PyBuffer_Release(bufs[q]);
        return NULL;
    }
    const double *T = b_t.buf, *UP = b_up.buf, *DYN = b_dyn.buf, *EFF = b_eff.buf;
    const double *P = b_par.buf;
    double *S = b_st.buf, *M = b_m.buf, *XYZ = b_xyz.buf, *ADDS = b_adds.buf;
    unsigned char *STILL = b_still.buf;

    const double frame_s = P[P_FRAME_S], speed_tau = P[P_SPEED_TAU], hold_tau = P[P_HOLD_TAU];
    const double still_dps = P[P_STILL_DPS], moving = P[P_MOVING], quiet = P[P_QUIET];
    const double up_min_z = P[P_UP_MIN_Z], noise_k = P[P_NOISE_K], noise_max = P[P_NOISE_MAX];
    const double rep_floor = P[P_REP_FLOOR], too_far = P[P_TOO_FAR];
    const double o0 = P[P_O0], o1 = P[P_O1], o2 = P[P_O2], w0 = P[P_W0], w1 = P[P_W1], w2 = P[P_W2];
    const double off_frac = P[P_OFF_FRAC], da = P[P_DA], da1 = P[P_DA1];
    const double block_s = P[P_BLOCK_S], half_block = P[P_HALF_BLOCK], deg = P[P_DEG];
    const int measure = P[P_MEASURE] != 0.0, unannounced = P[P_UNANNOUNCED] != 0.0;
    const double supine_tan = P[P_SUPINE_TAN], cand_on = P[P_CAND_ON];
    const double cand_end = P[P_CAND_END], cand_gap = P[P_CAND_GAP];

    double prev_t = S[S_PREV_T], p0 = S[S_P0], p1 = S[S_P1], p2 = S[S_P2];
    double speed_dps = S[S_SPEED], dyn_ema = S[S_DYN], quiet_t = S[S_QUIET_T];
    int has_quiet_t = S[S_HAS_QUIET_T] != 0.0;
    double l0 = S[S_L0], l1 = S[S_L1], l2 = S[S_L2], hold_speed = S[S_HOLD_SPEED];
    double r0 = S[S_R0], r1 = S[S_R1], r2 = S[S_R2];
    int rest_moved = S[S_REST_MOVED] != 0.0;
    double noise2 = S[S_NOISE2], last_m_full = S[S_LAST_M_FULL];
    double f_block = S[S_F_BLOCK], f_sum = S[S_F_SUM], f_n = S[S_F_N];
    int has_f_block = S[S_HAS_F_BLOCK] != 0.0, cand_live = S[S_CAND_LIVE] != 0.0;
    Py_ssize_t n_adds = 0, j = i;

    for (; j < n; j++) {
        const double t = T[j], u0 = UP[3 * j], u1 = UP[3 * j + 1], u2 = UP[3 * j + 2];
        /* everything _step would decide, before anything is committed */
        double dt = t - prev_t;
        if (dt < frame_s)
            dt = frame_s;
        if (dt > 2.0)
            break;                              /* a gap */
        double c = u0 * p0 + u1 * p1 + u2 * p2;
        c = c > 1.0 ? 1.0 : (c < -1.0 ? -1.0 : c);
        double a = dt / speed_tau;
        if (a > 1.0)
            a = 1.0;
        const double dyn = DYN[j];
        const double n_speed = speed_dps + a * (acos(c) * deg / dt - speed_dps);
        const double n_dyn = dyn_ema + a * (dyn - dyn_ema);
        const int still = n_speed < still_dps && n_dyn < moving;
        a = dt / hold_tau;
        if (a > 1.0)
            a = 1.0;
        double hx = l0 + a * (u0 - l0), hy = l1 + a * (u1 - l1), hz = l2 + a * (u2 - l2);
        double hn = sqrt(hx * hx + hy * hy + hz * hz);
        if (hn == 0.0)
            hn = 1.0;
        hx = hx / hn;
        hy = hy / hn;
        hz = hz / hn;
        c = hx * l0 + hy * l1 + hz * l2;
        c = c > 1.0 ? 1.0 : (c < -1.0 ? -1.0 : c);
        a = dt / speed_tau;
        if (a > 1.0)
            a = 1.0;
        const double n_hold_speed = hold_speed + a * (acos(c) * deg / dt - hold_speed);
        if (n_hold_speed < still_dps && n_dyn < moving && u2 < up_min_z
            && !(unannounced && u0 > 0.0 && fabs(u1) < supine_tan * u0))
            break;                              /* still, off upright, not clearly supine */
        double on = 0.0, x = 0.0, y = 0.0, z = 0.0, m = 0.0, m_full = 0.0;
        if (!measure) {
            if (still)
                break;                          /* still: a rest pose may be taken */
        } else {
            on = noise_k * sqrt(noise2);
            if (on > noise_max)
                on = noise_max;
            if (rep_floor >= on)
                on = rep_floor;
            if (cand_live && cand_on > on)
                on = cand_on;
            const double ax = u1 * r2 - u2 * r1, ay = u2 * r0 - u0 * r2, az = u0 * r1 - u1 * r0;
            const double sn = sqrt(ax * ax + ay * ay + az * az);
            const double kk = atan2(sn, u0 * r0 + u1 * r1 + u2 * r2) * deg / (sn > 1e-12 ? sn : 1e-12);
            x = ax * kk;
            y = ay * kk;
            z = az * kk;
            m_full = sqrt(x * x + y * y + z * z);
            if (m_full > too_far)
                break;
            const double wa = (x - o0) * w0, wb = (y - o1) * w1, wc = (z - o2) * w2;
            m = sqrt(wa * wa + wb * wb + wc * wc);
            if (m >= on)
                break;                          /* a rep onset */
        }
        /* commit the frame, in _step's order */
        const double e = EFF[j];
        if (isfinite(e)) {                      /* effort.EffortFloor.update */
            const double b = floor(t / block_s);
            if (!has_f_block || b != f_block) {
                if (has_f_block && f_n >= half_block)
                    ADDS[n_adds++] = sqrt(f_sum / f_n);
                f_block = b;
                has_f_block = 1;
                f_sum = 0.0;
                f_n = 0.0;
            }
            f_sum += e;
            f_n += 1.0;
        }
        speed_dps = n_speed;
        dyn_ema = n_dyn;
        prev_t = t;
        p0 = u0;
        p1 = u1;
        p2 = u2;
        if (dyn < quiet) {
            quiet_t = t;
            has_quiet_t = 1;
        }
        l0 = hx;
        l1 = hy;
        l2 = hz;
        hold_speed = n_hold_speed;
        STILL[j - i] = (unsigned char)still;
        if (cand_live && measure && t - cand_end > cand_gap)
            cand_live = 0;                      /* tracker._expire, at the frame's end */
        if (!measure)
            continue;
        M[j - i] = m;
        XYZ[3 * (j - i)] = x;
        XYZ[3 * (j - i) + 1] = y;
        XYZ[3 * (j - i) + 2] = z;
        last_m_full = m_full;
        if (still) {
            if (m < 0.5 * on && m_full < off_frac * (on >= 2.0 ? on : 2.0)) {
                /* reps.drift_rest */
                const double dx = da1 * r0 + da * u0, dy = da1 * r1 + da * u1, dz = da1 * r2 + da * u2;
                const double rn = sqrt(dx * dx + dy * dy + dz * dz);
                r0 = dx / rn;
                r1 = dy / rn;
                r2 = dz / rn;
                rest_moved = 1;
            }
            if (m_full < noise_max)
                noise2 += 0.02 * (pow_fn(m_full, 2.0) - noise2);
        }
    }

    S[S_PREV_T] = prev_t; S[S_P0] = p0; S[S_P1] = p1; S[S_P2] = p2;
    S[S_SPEED] = speed_dps; S[S_DYN] = dyn_ema; S[S_QUIET_T] = quiet_t;
    S[S_HAS_QUIET_T] = has_quiet_t; S[S_L0] = l0; S[S_L1] = l1; S[S_L2] = l2;
    S[S_HOLD_SPEED] = hold_speed; S[S_R0] = r0; S[S_R1] = r1; S[S_R2] = r2;
    S[S_REST_MOVED] = rest_moved; S[S_NOISE2] = noise2; S[S_LAST_M_FULL] = last_m_full;
    S[S_F_BLOCK] = f_block; S[S_HAS_F_BLOCK] = has_f_block; S[S_F_SUM] = f_sum; S[S_F_N] = f_n;
    S[S_CAND_LIVE] = cand_live;
    for (int q = 0; q < 10; q++)
        PyBuffer_Release(bufs[q]);
    return Py_BuildValue("nn", j, n_adds);
}

static PyMethodDef methods[] = {
    {"rest_run", rest_run, METH_VARARGS,
     "rest_run(t, up, dyn, eff, i, n, params, state, still, m, xyz, adds) -> (j, n_adds)"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_idle_loop",
                                    "idle.idle_run's loop at rest, compiled", -1, methods};

PyMODINIT_FUNC PyInit__idle_loop(void) { return PyModule_Create(&module); }
