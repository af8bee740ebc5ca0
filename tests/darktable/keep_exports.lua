--[[
    For tests/darktable/driver.lua and gui_probe.lua: wraps the zdce_enhance script's process()
    (both its paths hand it the files darktable exported) so that each file is copied, as the
    engine gets it, to copy_to(index, item) before the engine runs. Returns a function that
    removes the wrapper.
]]
return function(functions, copy_to)
  local process = functions.process
  functions.process = function(items, ...)
    for i, item in ipairs(items) do
      local from, to = assert(io.open(item.file, "rb")), assert(io.open(copy_to(i, item), "wb"))
      to:write(from:read("a"))
      from:close()
      to:close()
    end
    return process(items, ...)
  end
  return function()
    functions.process = process
  end
end
