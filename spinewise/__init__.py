"""spinewise: posture, activity and back-exercise monitoring from a lower-back IMU."""

__version__ = "0.1.0"
