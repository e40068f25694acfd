-- Neovim's built-in LSP client (Debian's 0.7), headless, against indexer lsp: workspace and
-- document symbols, definition, and a definition typed into the buffer but not saved. Writes
-- what it got to $OUT, one line per answer, for tests/clients/nvim_lsp.sh to compare.
local root, out = os.getenv('ROOT'), io.open(os.getenv('OUT'), 'w')
local function say(s) out:write(s .. '\n') end

-- Started by the README's snippet ($SNIPPET), from the tree's root with `indexer` on PATH.
vim.cmd('edit ' .. root .. '/shapes.py')
local buf = vim.api.nvim_get_current_buf()
dofile(os.getenv('SNIPPET'))
-- A client is listed once it has initialized.
vim.wait(10000, function() return #vim.lsp.get_active_clients() > 0 end)
local id = vim.lsp.get_active_clients()[1].id

local function request(method, params)
  local res = vim.lsp.buf_request_sync(buf, method, params, 10000) or {}
  for _, r in pairs(res) do if r.result then return r.result end end
  return {}
end

for _, s in ipairs(request('workspace/symbol', { query = 'area' })) do
  say('workspace ' .. s.name .. ' ' .. s.location.range.start.line .. ':' .. s.location.range.start.character)
end
local function walk(symbols, depth)
  for _, s in ipairs(symbols) do
    say('outline ' .. string.rep('  ', depth) .. s.name)
    walk(s.children or {}, depth + 1)
  end
end
walk(request('textDocument/documentSymbol', { textDocument = { uri = vim.uri_from_bufnr(buf) } }), 0)
for _, l in ipairs(request('textDocument/definition', { textDocument = { uri = vim.uri_from_bufnr(buf) }, position = { line = 5, character = 12 } })) do
  say('definition ' .. vim.uri_to_fname(l.uri):sub(#root + 2) .. ' ' .. l.range.start.line)
end

-- Typed, not saved: Neovim sends didChange; the index answers from the buffer.
vim.api.nvim_buf_set_lines(buf, -1, -1, false, { 'def typed_in_nvim():', '    pass' })
vim.wait(2000, function() return #request('workspace/symbol', { query = 'typed_in_nvim' }) > 0 end, 50)
for _, s in ipairs(request('workspace/symbol', { query = 'typed_in_nvim' })) do
  say('unsaved ' .. s.name .. ' ' .. s.location.range.start.line)
end

out:close()
vim.lsp.stop_client(id)
vim.wait(2000, function() return vim.lsp.get_client_by_id(id) == nil end)
vim.cmd('qa!')
