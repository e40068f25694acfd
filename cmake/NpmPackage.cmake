# Fetches a pinned npm package at configure time and extracts it into the build tree.
#
# `npm pack NAME@VERSION` downloads the tarball into a cache shared by every build directory
# (INDEXER_NPM_CACHE, default ~/.cache/indexer/npm), so a rebuild or a fresh build directory does not
# fetch again. The tarball is checked against the SHA-512 pinned in the caller before it is used: a
# mismatch or an unreachable registry stops the configure with a message that names the package.
# Nothing fetched is ever written into the source tree.

set(INDEXER_NPM_CACHE "$ENV{HOME}/.cache/indexer/npm" CACHE PATH "Where pinned npm tarballs are cached")

# indexer_npm_package(<name> <version> <sha512-hex> <out-var>)
# Sets <out-var> to the directory holding the extracted package (the tarball's package/ folder).
function(indexer_npm_package name version sha512 out_var)
  string(REPLACE "@" "" flat "${name}")
  string(REPLACE "/" "-" flat "${flat}")
  set(tarball "${INDEXER_NPM_CACHE}/${flat}-${version}.tgz")
  set(dest "${CMAKE_BINARY_DIR}/_npm/${flat}-${version}")

  if(EXISTS "${tarball}")
    file(SHA512 "${tarball}" have)
    if(NOT have STREQUAL sha512)
      message(STATUS "npm: cached ${name}@${version} does not match its pin; fetching it again")
      file(REMOVE "${tarball}")
    endif()
  endif()

  if(NOT EXISTS "${tarball}")
    find_program(NPM_EXECUTABLE npm)
    if(NOT NPM_EXECUTABLE)
      message(FATAL_ERROR "npm: cannot fetch ${name}@${version}: the npm client is not installed (run ./setup.sh)")
    endif()
    file(MAKE_DIRECTORY "${INDEXER_NPM_CACHE}/tmp")
    execute_process(
      COMMAND "${NPM_EXECUTABLE}" pack "${name}@${version}" --loglevel=error --pack-destination "${INDEXER_NPM_CACHE}/tmp"
      RESULT_VARIABLE rc OUTPUT_VARIABLE packed ERROR_VARIABLE err
      OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "npm: could not fetch ${name}@${version} from the registry (exit ${rc}):\n${err}")
    endif()
    string(REGEX REPLACE ".*\n" "" packed "${packed}")
    file(SHA512 "${INDEXER_NPM_CACHE}/tmp/${packed}" have)
    if(NOT have STREQUAL sha512)
      file(REMOVE "${INDEXER_NPM_CACHE}/tmp/${packed}")
      message(FATAL_ERROR "npm: ${name}@${version} does not match its pinned sha512\n  pinned: ${sha512}\n  got:    ${have}")
    endif()
    file(RENAME "${INDEXER_NPM_CACHE}/tmp/${packed}" "${tarball}")
  endif()

  if(NOT EXISTS "${dest}/.extracted-${sha512}")
    file(REMOVE_RECURSE "${dest}")
    file(ARCHIVE_EXTRACT INPUT "${tarball}" DESTINATION "${dest}")
    file(TOUCH "${dest}/.extracted-${sha512}")
  endif()
  set(${out_var} "${dest}/package" PARENT_SCOPE)
endfunction()
