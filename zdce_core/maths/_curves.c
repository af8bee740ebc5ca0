/* The curve iterations of zdce_core.maths.render in one pass over each row.
 *
 * apply(x, w, upper, slope) does exactly what render.apply_curves_numpy (the
 * reference the tests compare it with) does: for each row y of x and each step
 * s, a = w[y] * slope[s] + upper[s], then x = x + a * (x - x * x), the same
 * float32 operations in the same order (built with -ffp-contract=off, so no
 * fused multiply-add changes a rounding). NumPy makes six passes over the rows
 * per step; here a value stays in a register through all steps. Optional:
 * without a C compiler the package installs without it and the NumPy
 * reference runs.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* One copy for AVX2 and one for the baseline, chosen when the module loads
 * (GNU ifunc): wheels stay portable and AVX2 machines get 8 floats at a time. */
#if defined(__GNUC__) && defined(__x86_64__) && defined(__linux__) && defined(__GLIBC__)
#define VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define VECTOR_CLONES
#endif

VECTOR_CLONES
static void apply_rows(float *x, Py_ssize_t rows, Py_ssize_t length, const float *w, const float *upper,
                       const float *slope, Py_ssize_t steps)
{
    for (Py_ssize_t y = 0; y < rows; y++) {
        float *row = x + y * length;
        const float weight = w[y];
        for (Py_ssize_t s = 0; s < steps; s++) {
            const float *u = upper + s * length, *d = slope + s * length;
            for (Py_ssize_t i = 0; i < length; i++) {
                const float v = row[i];
                const float a = weight * d[i] + u[i];
                row[i] = v + a * (v - v * v);
            }
        }
    }
}

static int get_floats(PyObject *obj, Py_buffer *view, int ndim, int writable, const char *name)
{
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0)
        return -1;
    if (view->ndim != ndim || view->itemsize != 4 || strcmp(view->format, "f") != 0) {
        PyErr_Format(PyExc_TypeError, "%s must be a C-contiguous %d-D float32 array", name, ndim);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static PyObject *apply(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *objs[4];
    if (!PyArg_ParseTuple(args, "OOOO:apply", &objs[0], &objs[1], &objs[2], &objs[3]))
        return NULL;
    static const char *names[4] = {"x", "w", "upper", "slope"};
    static const int ndims[4] = {2, 1, 2, 2};
    Py_buffer views[4];
    int held = 0;
    for (; held < 4; held++)
        if (get_floats(objs[held], &views[held], ndims[held], held == 0, names[held]) < 0)
            goto done;
    const Py_ssize_t rows = views[0].shape[0], length = views[0].shape[1], steps = views[2].shape[0];
    if (views[1].shape[0] != rows || views[2].shape[1] != length || views[3].shape[0] != steps ||
        views[3].shape[1] != length) {
        PyErr_SetString(PyExc_ValueError, "w must have x's rows, upper and slope x's row length and one shape");
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    apply_rows(views[0].buf, rows, length, views[1].buf, views[2].buf, views[3].buf, steps);
    Py_END_ALLOW_THREADS
done:
    while (held > 0)
        PyBuffer_Release(&views[--held]);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"apply", apply, METH_VARARGS,
     "apply($module, x, w, upper, slope)\n--\n\n"
     "In place on float32 rows x (rows, n): for each step s, x += (w[:, None] * slope[s] + upper[s]) * (x - x * x)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef curves_module = {PyModuleDef_HEAD_INIT, .m_name = "_curves", .m_size = 0, .m_methods = methods};

PyMODINIT_FUNC PyInit__curves(void) { return PyModule_Create(&curves_module); }
