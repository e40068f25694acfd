# Runs cmake/NpmPackage.cmake as the configure step does, in a scratch cache and build dir:
#   cmake -DCASE=mismatch|missing -DSCRATCH=DIR -DSOURCE=REPO -P npm_pin.cmake
# mismatch: a real package pinned to a wrong hash; missing: a package the registry does not have.
# Both must stop with a message naming the package (the test checks the output).
set(CMAKE_BINARY_DIR "${SCRATCH}/build")
set(INDEXER_NPM_CACHE "${SCRATCH}/cache")
file(REMOVE_RECURSE "${SCRATCH}")
include("${SOURCE}/cmake/NpmPackage.cmake")
if(CASE STREQUAL "mismatch")
  indexer_npm_package(is-number 7.0.0 00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000 DIR)
else()
  indexer_npm_package(indexer-test-no-such-package-4f1c 1.0.0 0 DIR)
endif()
message(STATUS "fetched ${DIR}: this line must not be reached")
