# Every dependency of the interface target, found the same way here and in
# slmrecConfig.cmake (which repeats these with find_dependency).
include(GNUInstallDirs)
find_package(Eigen3 3.4 REQUIRED NO_MODULE)
find_package(xtensor REQUIRED)
find_package(fmt REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
if(SLMREC_WITH_OPENMP)
  find_package(OpenMP REQUIRED COMPONENTS CXX)
endif()
if(SLMREC_WITH_OPENBLAS)
  set(BLA_VENDOR OpenBLAS)
  find_package(BLAS REQUIRED)
endif()
# hnswlib (header-only; Debian's libhnswlib-dev) for approximate item search
# (include/slmrec/index/). Without it the rest of the library builds as before;
# only the index headers, `slmrec index` and `recommend --index` need it.
find_path(SLMREC_HNSWLIB_INCLUDE_DIR hnswlib/hnswlib.h)
if(SLMREC_HNSWLIB_INCLUDE_DIR)
  set(_slmrec_hnsw_default ON)
else()
  set(_slmrec_hnsw_default OFF)
endif()
option(SLMREC_WITH_HNSW "Approximate item search with hnswlib (ON when its header is found)" ${_slmrec_hnsw_default})
if(SLMREC_WITH_HNSW AND NOT SLMREC_HNSWLIB_INCLUDE_DIR)
  message(FATAL_ERROR "SLMREC_WITH_HNSW is ON but hnswlib/hnswlib.h was not found (apt-get install libhnswlib-dev, "
                      "or set SLMREC_HNSWLIB_INCLUDE_DIR)")
endif()
# The HTTP service (include/slmrec/serve/http_service.hpp, `slmrec serve`,
# benchmarks/load_serve): GNU libmicrohttpd (Debian's libmicrohttpd-dev) is its
# server, cpp-httplib (libcpp-httplib-dev) the client of its tests and load
# test; both compiled libraries, found through pkg-config. Without them only
# those are left out.
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(SLMREC_MHD QUIET IMPORTED_TARGET libmicrohttpd)
  pkg_check_modules(SLMREC_HTTPLIB QUIET IMPORTED_TARGET cpp-httplib)
endif()
if(SLMREC_MHD_FOUND AND SLMREC_HTTPLIB_FOUND)
  set(SLMREC_HTTP_FOUND ON)
else()
  set(SLMREC_HTTP_FOUND OFF)
endif()
option(SLMREC_WITH_HTTP "The HTTP service on libmicrohttpd, tested with cpp-httplib (ON when both are found)"
       ${SLMREC_HTTP_FOUND})
if(SLMREC_WITH_HTTP AND NOT SLMREC_HTTP_FOUND)
  message(FATAL_ERROR "SLMREC_WITH_HTTP is ON but libmicrohttpd or cpp-httplib was not found "
                      "(apt-get install libmicrohttpd-dev libcpp-httplib-dev pkgconf)")
endif()
find_program(SLMREC_CCACHE ccache)
if(SLMREC_CCACHE AND SLMREC_IS_TOP_LEVEL AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${SLMREC_CCACHE})
endif()

# XXH3 checksums of checkpoints (core/digest.hpp): xxhash.h alone, compiled
# inline (XXH_INLINE_ALL), so nothing is linked. Debian: libxxhash-dev.
find_path(SLMREC_XXHASH_INCLUDE_DIR xxhash.h)
if(NOT SLMREC_XXHASH_INCLUDE_DIR)
  message(FATAL_ERROR "xxhash.h was not found (apt-get install libxxhash-dev, or set SLMREC_XXHASH_INCLUDE_DIR)")
endif()
