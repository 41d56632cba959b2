"""Builds slmrec._core with CMake (python/CMakeLists.txt) for setuptools.

pyproject.toml holds the metadata; this file only teaches build_ext to run
CMake: a Release build of the one target, without -march=native
(SLMREC_NATIVE=OFF), tests, examples or benchmarks. SLMREC_CMAKE_ARGS adds
options (e.g. "-DSLMREC_NATIVE=ON" for a machine-specific build).
"""
import os
import shlex
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        target_dir = Path(self.get_ext_fullpath(ext.name)).resolve().parent
        build_dir = Path(self.build_temp).resolve() / "cmake"
        build_dir.mkdir(parents=True, exist_ok=True)
        configure = [
            "cmake", "-S", str(ROOT), "-B", str(build_dir),
            "-DCMAKE_BUILD_TYPE=Release",
            "-DSLMREC_WITH_PYTHON=ON",
            "-DSLMREC_NATIVE=OFF",
            "-DSLMREC_BUILD_TESTS=OFF",
            "-DSLMREC_BUILD_EXAMPLES=OFF",
            "-DSLMREC_BUILD_BENCHMARKS=OFF",
            f"-DPython3_EXECUTABLE={sys.executable}",
            f"-DSLMREC_PYTHON_PACKAGE_DIR={target_dir}",
            *shlex.split(os.environ.get("SLMREC_CMAKE_ARGS", "")),
        ]
        subprocess.run(configure, check=True)
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 1))
        subprocess.run(["cmake", "--build", str(build_dir), "--target", "slmrec_python", "-j", jobs], check=True)


# build-wheel/, not setuptools' build/: that is the CMake build directory of the README.
setup(ext_modules=[CMakeExtension("slmrec._core")], cmdclass={"build_ext": CMakeBuild},
      options={"build": {"build_base": "build-wheel"}})
