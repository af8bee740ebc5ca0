--[[
    Run from luarc by tests/test_darktable.py after `require "contrib/zdce_enhance"`, in the
    real darktable GUI: checks what library mode cannot (registered preferences, the progress
    job, script_manager's destroy and restart) and writes what it saw, tab-separated, to
    $ZDCE_TEST_REPORT, ending with "done". Then the test stops darktable.
]]

local dt = require "darktable"
local script = require "contrib/zdce_enhance"

local report = assert(io.open(os.getenv("ZDCE_TEST_REPORT"), "w"))
local function log(...)
  report:write(table.concat({ ... }, "\t"), "\n")
  report:flush()
end

log("gui", tostring(dt.gui ~= nil))
log("executable", dt.preferences.read("zdce_enhance", "executable", "file"))
log("steps", tostring(dt.preferences.read("zdce_enhance", "steps", "integer")))
log("format", dt.preferences.read("zdce_enhance", "format", "enum"))
local image = dt.database.import(os.getenv("ZDCE_TEST_PHOTO"))
local ok, result = pcall(script.functions.enhance_images, { image })
log("enhance", tostring(ok and result.ok), ok and result.message or tostring(result))
if ok and result.imported[1] then
  local new = result.imported[1]
  log("imported", new.path .. "/" .. new.filename, tostring(new.group_leader == image))
end
log("restart", tostring(pcall(function()
  script.destroy()
  script.restart()
end)))
log("done")
report:close()
