# Runs a package's npm steps (npm ci, then its build) once per content of their inputs.
#
#   cmake -DDIR=PACKAGE_DIR -DNAME=LABEL -DINPUTS="a|b|c" -DSTEPS="npm ci ...|npm run build"
#         -DOUTPUTS="dist/x.js|..." -P npm_once.cmake
#
# The steps write into the source tree (node_modules/, dist/), which every build directory shares:
# test.sh builds Release and then the sanitizer build, and each ran npm ci and the bundlers again on
# the same inputs (about two minutes on a clean clone). A hash of the inputs' contents is kept in
# DIR/node_modules/.indexer-NAME.sha256 after the steps succeed; when it matches and every OUTPUT is
# there, nothing runs. Deleting node_modules/ (or an output) runs the steps again.
foreach(var DIR NAME INPUTS STEPS OUTPUTS)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "npm_once.cmake: -D${var}= is required")
  endif()
endforeach()
string(REPLACE "|" ";" inputs "${INPUTS}")
string(REPLACE "|" ";" steps "${STEPS}")
string(REPLACE "|" ";" outputs "${OUTPUTS}")

set(all "")
foreach(f IN LISTS inputs)
  file(SHA256 "${f}" h)
  string(APPEND all "${f} ${h}\n")
endforeach()
string(APPEND all "${STEPS}\n")
string(SHA256 key "${all}")

set(mark "${DIR}/node_modules/.indexer-${NAME}.sha256")
set(fresh FALSE)
if(EXISTS "${mark}")
  file(READ "${mark}" old)
  if(old STREQUAL key)
    set(fresh TRUE)
    foreach(o IN LISTS outputs)
      if(NOT EXISTS "${DIR}/${o}")
        set(fresh FALSE)
      endif()
    endforeach()
  endif()
endif()
if(fresh)
  message(STATUS "${NAME}: node_modules and outputs match their inputs; nothing to run")
  return()
endif()

file(REMOVE "${mark}")
foreach(step IN LISTS steps)
  execute_process(COMMAND sh -c "${step}" WORKING_DIRECTORY "${DIR}" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${NAME}: '${step}' failed (${rc})")
  endif()
endforeach()
file(WRITE "${mark}" "${key}")
