# Writes OUT (a header defining EQSIM_GIT_REVISION) from `git describe --always --dirty`
# in SRC; rewrites it only when the revision changed, so an unchanged tree rebuilds nothing.
execute_process(COMMAND git -C ${SRC} describe --always --dirty
                OUTPUT_VARIABLE rev OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT rev)
  set(rev "unknown")
endif()
set(text "#pragma once\n#define EQSIM_GIT_REVISION \"${rev}\"\n")
if(EXISTS ${OUT})
  file(READ ${OUT} old)
endif()
if(NOT "${old}" STREQUAL "${text}")
  file(WRITE ${OUT} "${text}")
endif()
