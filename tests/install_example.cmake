# The install_example test: installs the verify component of BUILD_DIR into a fresh prefix,
# builds examples/receiver against it the way another project would, and checks the result
# on the Standard Webhooks reference vector, intact and with one body byte changed.
#   cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... -DGENERATOR=... -DCXX_COMPILER=...
#         -P install_example.cmake
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT code EQUAL 0)
    message(FATAL_ERROR "failed (${code}): ${ARGN}\n${out}\n${err}")
  endif()
endfunction()

# Runs the example; sets `output` and `code` in the caller.
function(verify_capture body_file)
  execute_process(
    COMMAND ${WORK_DIR}/build/verify_capture
            --secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
            --id msg_p5jXN8AQM9LWM0D4loKWxJek
            --timestamp 1614265330
            --signature "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
            --body ${body_file}
            --now 1614265400
    RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
  set(output "${out}${err}" PARENT_SCOPE)
  set(code ${result} PARENT_SCOPE)
endfunction()

set(prefix ${WORK_DIR}/prefix)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix} --component verify)
foreach(installed include/webhookd/verify.hpp)
  if(NOT EXISTS ${prefix}/${installed})
    message(FATAL_ERROR "cmake --install did not install ${installed}")
  endif()
endforeach()

run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples/receiver -B ${WORK_DIR}/build -G ${GENERATOR}
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)

file(WRITE ${WORK_DIR}/body.json "{\"test\": 2432232314}")
verify_capture(${WORK_DIR}/body.json)
if(NOT code EQUAL 0 OR NOT output STREQUAL "verified\n")
  message(FATAL_ERROR "the reference vector did not verify (${code}): ${output}")
endif()

file(WRITE ${WORK_DIR}/tampered.json "{\"test\": 2432232315}")
verify_capture(${WORK_DIR}/tampered.json)
if(NOT code EQUAL 1 OR NOT output MATCHES "^not verified: no_matching_signature")
  message(FATAL_ERROR "a tampered body was not refused as it should be (${code}): ${output}")
endif()
message(STATUS "installed webhookd::verify builds and verifies: ${prefix}")
