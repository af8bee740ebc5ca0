--[[
    Run from luarc by tests/test_darktable.py after `require "contrib/zdce_enhance"`, in the
    real darktable GUI: checks what library mode cannot (registered preferences, the export
    module's widgets, the progress job, script_manager's destroy and restart) and writes what it
    saw, tab-separated, to $ZDCE_TEST_REPORT, ending with "done". Then it quits darktable, which
    writes the stored settings to darktablerc.
]]

local dt = require "darktable"
local script = require "contrib/zdce_enhance"

local report = assert(io.open(os.getenv("ZDCE_TEST_REPORT"), "w"))
local function log(...)
  report:write(table.concat({ ... }, "\t"), "\n")
  report:flush()
end

local function stored()
  return tostring(dt.preferences.read("zdce_enhance", "steps", "integer")),
    dt.preferences.read("zdce_enhance", "strength", "string"),
    dt.preferences.read("zdce_enhance", "denoise", "string")
end

log("gui", tostring(dt.gui ~= nil))
log("executable", dt.preferences.read("zdce_enhance", "executable", "file"))
log("format", dt.preferences.read("zdce_enhance", "format", "enum"))
local widgets = script.functions.widgets
log("widgets", string.format("%d", math.floor(widgets.steps.value + 0.5)), widgets.strength.value,
  tostring(widgets.denoise.value))
-- What a user does in the export module: 4 steps, strength 20 %, denoise off.
widgets.steps.value = 4
widgets.strength.selected = 3
widgets.denoise.value = false
log("changed", widgets.strength.value, stored())

local image = dt.database.import(os.getenv("ZDCE_TEST_PHOTO"))
-- The file the shortcut exported, as the engine gets it, for the test's reference.
local keep_exports = dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "keep_exports.lua")
local unwrap = keep_exports(script.functions, function()
  return os.getenv("ZDCE_TEST_REFERENCE")
end)
local ok, result = pcall(script.functions.enhance_images, { image })
unwrap()
log("enhance", tostring(ok and result.ok), ok and result.message or tostring(result))
if ok and result.imported[1] then
  local new = result.imported[1]
  log("imported", new.path .. "/" .. new.filename, tostring(new.group_leader == image))
end
log("stored", stored())
log("restart", tostring(pcall(function()
  script.destroy()
  script.restart()
end)))
log("done")
report:close()
dt.gui.action("global/quit", 0, "", "", 1.0)
