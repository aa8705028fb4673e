# Warnings and sanitizers live on INTERFACE targets linked PRIVATE into our own targets only,
# so third-party headers and targets are never built with them.
add_library(acme_warnings INTERFACE)
add_library(acme::warnings ALIAS acme_warnings)
target_compile_options(acme_warnings INTERFACE
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wnon-virtual-dtor
    -Woverloaded-virtual -Wimplicit-fallthrough)
if(ACME_WERROR)
    target_compile_options(acme_warnings INTERFACE -Werror)
endif()
option(ACME_TSAN "Build with ThreadSanitizer" OFF)
if(ACME_TSAN)
    target_compile_options(acme_warnings INTERFACE -fsanitize=thread -fno-omit-frame-pointer -Wno-tsan)
    target_link_options(acme_warnings INTERFACE -fsanitize=thread)
endif()
if(ACME_SANITIZE)
    # GCC 12's flow analysis reports uninitialized members inside libstdc++'s std::regex and
    # std::function when the sanitizers instrument them (false positives; a plain build is clean).
    target_compile_options(acme_warnings INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer
        -Wno-maybe-uninitialized)
    target_link_options(acme_warnings INTERFACE -fsanitize=address,undefined)
endif()

# acme_add_test(NAME name SOURCES ... LIBS ... LABELS ...)
function(acme_add_test)
    # POSTGRES: the tests need the PostgreSQL test server (fixture `postgres`, tests/).
    cmake_parse_arguments(T "POSTGRES" "NAME" "SOURCES;LIBS;LABELS" ${ARGN})
    add_executable(${T_NAME} ${T_SOURCES})
    target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main acme::warnings)
    # An empty LABELS would swallow the next key (ENVIRONMENT became a label and the
    # variable was lost): name only the properties that have a value.
    set(props ENVIRONMENT "ACME_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
    # One label per binary: gtest_discover_tests splits a list value into keys.
    if(T_POSTGRES)
        set(T_LABELS postgres)
        list(APPEND props FIXTURES_REQUIRED postgres)
    endif()
    if(T_LABELS)
        list(APPEND props LABELS "${T_LABELS}")
    endif()
    gtest_discover_tests(${T_NAME}
        WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
        PROPERTIES ${props}
        DISCOVERY_TIMEOUT 60)
endfunction()
