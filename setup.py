"""The one build setting pyproject.toml holds only as an experimental table: the optional C kernel."""

from setuptools import Extension, setup

# The render's curve iterations in C (zdce_core/maths/render.py says why). optional: where no C
# compiler is found the install goes on and the NumPy reference runs. -ffp-contract=off: no fused
# multiply-add, so the kernel rounds exactly as the reference does.
setup(
    ext_modules=[
        Extension(
            "zdce_core.maths._curves",
            ["zdce_core/maths/_curves.c"],
            extra_compile_args=["-O3", "-ffp-contract=off"],
            optional=True,
        )
    ]
)
