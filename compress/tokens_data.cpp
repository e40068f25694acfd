// The vocabulary tables (tokens_table.h) the build made from gpt-tokenizer's pinned rank files,
// embedded as they are: the binary needs no data file at run time, and an encoding's table is
// only paged in when it is first used.
#define INDEXER_EMBED(symbol, path)              \
  asm(".section .rodata\n"                       \
      ".balign 64\n"                             \
      ".global " #symbol "\n" #symbol ":\n"      \
      ".incbin \"" path "\"\n"                   \
      ".previous\n")

INDEXER_EMBED(indexer_cl100k_base, INDEXER_CL100K_TABLE);
INDEXER_EMBED(indexer_o200k_base, INDEXER_O200K_TABLE);
