/* The one sequential step of frames.FrameBuilder._fuse, compiled: the running average of the
 * gyro-fused direction's offset over the quiet frames of a chunk, restarted at a frame that is
 * not near its anchor. The same arithmetic in the same order as the Python loop in frames.py,
 * so the results are bit for bit the same (tests/signal/exercise/test_frames.py runs both
 * against the frame-by-frame specification). A change to the Python loop must be made here too.
 *
 * Why C: most frames of a day are quiet, and this loop took ~1.5 s of a 24 h day at 50 Hz in
 * Python (issue 13). As _idle_loop.c: plain C with Python's buffer protocol, optional (setup.py),
 * no fused multiply-adds (-ffp-contract=off), so the arithmetic is CPython's float's.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *offset_run(PyObject *self, PyObject *args) {
    PyObject *o_d, *o_near, *o_out;
    double a, e0, e1, e2;
    if (!PyArg_ParseTuple(args, "OOdddd" "O", &o_d, &o_near, &a, &e0, &e1, &e2, &o_out))
        return NULL;
    Py_buffer b_d, b_near, b_out;
    if (PyObject_GetBuffer(o_d, &b_d, PyBUF_C_CONTIGUOUS) < 0)
        return NULL;
    if (PyObject_GetBuffer(o_near, &b_near, PyBUF_C_CONTIGUOUS) < 0) {
        PyBuffer_Release(&b_d);
        return NULL;
    }
    if (PyObject_GetBuffer(o_out, &b_out, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) < 0) {
        PyBuffer_Release(&b_d);
        PyBuffer_Release(&b_near);
        return NULL;
    }
    Py_ssize_t k_n = b_near.len;                 /* one byte per frame */
    if (b_d.len < k_n * 3 * (Py_ssize_t)sizeof(double) || b_out.len < b_d.len) {
        PyBuffer_Release(&b_d);
        PyBuffer_Release(&b_near);
        PyBuffer_Release(&b_out);
        PyErr_SetString(PyExc_ValueError, "offset_run: need d and out (K, 3) float64, near (K,) bool");
        return NULL;
    }
    const double *d = (const double *)b_d.buf;
    const unsigned char *near = (const unsigned char *)b_near.buf;
    double *out = (double *)b_out.buf;
    for (Py_ssize_t k = 0; k < k_n; k++) {
        const double d0 = d[3 * k], d1 = d[3 * k + 1], d2 = d[3 * k + 2];
        if (near[k]) {
            e0 = e0 + a * (d0 - e0);
            e1 = e1 + a * (d1 - e1);
            e2 = e2 + a * (d2 - e2);
        } else {
            e0 = d0;
            e1 = d1;
            e2 = d2;
        }
        out[3 * k] = e0;
        out[3 * k + 1] = e1;
        out[3 * k + 2] = e2;
    }
    PyBuffer_Release(&b_d);
    PyBuffer_Release(&b_near);
    PyBuffer_Release(&b_out);
    return Py_BuildValue("ddd", e0, e1, e2);
}

static PyMethodDef methods[] = {
    {"offset_run", offset_run, METH_VARARGS,
     "offset_run(d, near, a, e0, e1, e2, out) -> (e0, e1, e2): out[k] = the offset after quiet frame k"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fusion_loop",
                                    "frames.FrameBuilder._fuse's running offset, compiled", -1, methods};

PyMODINIT_FUNC PyInit__fusion_loop(void) { return PyModule_Create(&module); }
