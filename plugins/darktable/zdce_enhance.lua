--[[
    zdce_enhance.lua - low-light enhancement of darktable images with the Zero-DCE engine (zdce)

    The selected images are exported (16-bit TIFF by default), enhanced by ONE
    `zdce batch` call, and the results are imported next to their originals,
    grouped with them and tagged "zdce|enhanced".

    USAGE
    * install with `zdce install darktable` (copies this file to
      CONFIGDIR/lua/contrib/ and adds `require "contrib/zdce_enhance"` to luarc)
    * either pick the export target "Low-light enhance (Zero-DCE)" in the export
      module (the export format chosen there is used; TIFF or JPEG), or bind a
      key to the shortcut "enhance selected images with Zero-DCE" (it uses the
      format from preferences)
    * the export target's own settings in the export module: steps, strength
      (auto or a share of the trained curves), denoise; the shortcut uses the
      same settings, and darktable remembers them between runs
    * preferences > lua options: path of the zdce executable, format for the shortcut

    The engine runs as a host program: a Flatpak darktable needs
    `flatpak-spawn --host` permission (see zdce's docs/troubleshooting.md).

    SPDX-License-Identifier: MIT
]]

local dt = require "darktable"

local MODULE = "zdce_enhance"
local STORAGE = "module_zdce_enhance"
local SHORTCUT_EVENT = "zdce_enhance_shortcut"
local EXIT_EVENT = "zdce_enhance_exit"
local TAG = "zdce|enhanced"
local NAME_SUFFIX = "_zdce"
local MIN_API = { 7, 0 }
local FORMATS = { tiff = "TIFF (16-bit)", jpeg = "JPEG" }
local JPEG_QUALITY = 95
-- `zdce install darktable` fills these in: the engine it was run from, and the
-- ranges, defaults and strength levels of zdce_core.contract (the engine's one definition).
local INSTALLED_ENGINE = nil
local MIN_STEPS = nil
local MAX_STEPS = nil
local DEFAULT_STEPS = nil
local DEFAULT_STRENGTH = nil
local DEFAULT_DENOISE = nil
-- Strength: "auto" (by exposure), or a fixed share of the trained curves.
local STRENGTHS = nil

-- `_` is gettext, as in darktable's own scripts: throwaway variables get other names.
local gettext = dt.gettext
if gettext and gettext.bindtextdomain then
  gettext.bindtextdomain(MODULE, dt.configuration.config_dir .. "/lua/locale/")
end

local function _(msgid)
  if gettext and gettext.dgettext then
    return gettext.dgettext(MODULE, msgid)
  end
  return msgid
end

local M = {}

-- ---------------------------------------------------------------- shell and files

--- Quote `text` as one POSIX shell word (any byte but NUL survives).
function M.shell_quote(text)
  return "'" .. tostring(text):gsub("'", "'\\''") .. "'"
end

local function in_flatpak()
  return M.file_exists("/.flatpak-info")
end

--- `command` as it must be run to reach programs on the host: inside a Flatpak
-- sandbox the engine lives outside it, so go through flatpak-spawn.
local function on_host(command)
  if in_flatpak() then
    return "flatpak-spawn --host sh -c " .. M.shell_quote(command)
  end
  return command
end

--- Run a shell command line on the host; returns the exit status (0 = success).
function M.run(command)
  local status = dt.control.execute(on_host(command))
  -- Some darktable versions return the raw wait status (code * 256).
  if status and status > 255 then
    status = status // 256
  end
  return status
end

local function read_all(path)
  local f = io.open(path, "rb")
  if not f then
    return nil
  end
  local data = f:read("a")
  f:close()
  return data
end

function M.file_exists(path)
  local f = io.open(path, "rb")
  if f then
    f:close()
    return true
  end
  return false
end

local function split_path(path)
  local dir, base = path:match("^(.*)/([^/]*)$")
  if not dir then
    dir, base = ".", path
  end
  local stem, ext = base:match("^(.+)%.([^.]+)$")
  return dir, stem or base, ext or ""
end

--- A path `dir/stem_zdce.ext` that does not exist yet (`_zdce_2`, `_zdce_3`, ... when taken).
function M.free_name(dir, stem, ext)
  local candidate = string.format("%s/%s%s.%s", dir, stem, NAME_SUFFIX, ext)
  local n = 2
  while M.file_exists(candidate) do
    candidate = string.format("%s/%s%s_%d.%s", dir, stem, NAME_SUFFIX, n, ext)
    n = n + 1
  end
  return candidate
end

--- Move `from` to `to`; across file systems by copying into a hidden part file first,
-- so a half-written result never carries the final name.
function M.move(from, to)
  if os.rename(from, to) then
    return true
  end
  local data = read_all(from)
  if not data then
    return false, string.format(_("cannot read %s"), from)
  end
  local dir, stem, ext = split_path(to)
  local part = string.format("%s/.%s.%s.part", dir, stem, ext)
  local f, err = io.open(part, "wb")
  if not f then
    return false, err
  end
  local ok, werr = f:write(data)
  f:close()
  if not ok or not os.rename(part, to) then
    os.remove(part)
    return false, werr or string.format(_("cannot write %s"), to)
  end
  os.remove(from)
  return true
end

local function temp_root()
  -- A sandboxed darktable's /tmp is private; its cache folder is visible to the host.
  if in_flatpak() then
    return dt.configuration.cache_dir
  end
  return dt.configuration.tmp_dir
end

--- A new private folder for one run's intermediate files.
function M.make_temp_dir()
  local p = io.popen("mktemp -d " .. M.shell_quote(temp_root() .. "/zdce-XXXXXX"))
  local dir = p and p:read("l")
  if p then
    p:close()
  end
  if not dir or dir == "" then
    error(string.format(_("cannot create a temporary folder in %s"), temp_root()))
  end
  return dir
end

function M.remove_tree(dir)
  if dir and dir ~= "" and dir ~= "/" then
    os.execute("rm -rf -- " .. M.shell_quote(dir))
  end
end

-- ---------------------------------------------------------------- preferences

--- The export module's widgets (GUI only; nil in library mode).
M.widgets = nil

local function strength_label(value)
  if value == "auto" then
    return _("auto (by exposure)")
  end
  return string.format("%d %%", math.floor(tonumber(value) * 100 + 0.5))
end

local function index_of(list, value)
  for i, item in ipairs(list) do
    if item == value then
      return i
    end
  end
  return nil
end

--- The stored settings, defaults filled in where nothing (or nothing valid) is stored.
local function stored_settings()
  local steps = dt.preferences.read(MODULE, "steps", "integer")
  if not steps or steps < MIN_STEPS or steps > MAX_STEPS then
    steps = DEFAULT_STEPS
  end
  local strength = dt.preferences.read(MODULE, "strength", "string")
  if not index_of(STRENGTHS, strength) then
    strength = DEFAULT_STRENGTH
  end
  -- A string, not a bool: an unset bool reads as false, and the default is on.
  local denoise = dt.preferences.read(MODULE, "denoise", "string")
  if denoise ~= "yes" and denoise ~= "no" then
    denoise = DEFAULT_DENOISE and "yes" or "no"
  end
  local format = dt.preferences.read(MODULE, "format", "enum")
  if format ~= FORMATS.jpeg then
    format = FORMATS.tiff
  end
  return {
    executable = dt.preferences.read(MODULE, "executable", "file") or "",
    steps = steps,
    strength = strength,
    denoise = denoise == "yes",
    format = format,
  }
end

--- Store what the export module's widgets show, so the next darktable run starts from it.
local function save_widgets()
  if not M.widgets then
    return
  end
  dt.preferences.write(MODULE, "steps", "integer", math.floor(M.widgets.steps.value + 0.5))
  dt.preferences.write(MODULE, "strength", "string", STRENGTHS[M.widgets.strength.selected] or DEFAULT_STRENGTH)
  dt.preferences.write(MODULE, "denoise", "string", M.widgets.denoise.value and "yes" or "no")
end

--- The user's settings: the export module's widgets where there is a GUI, else what they stored.
-- The export target and the shortcut both read them here.
function M.settings()
  save_widgets()
  return stored_settings()
end

--- The widgets the export module shows under our export target, set from the stored settings.
local function make_widgets()
  local stored = stored_settings()
  local labels = {}
  for i, value in ipairs(STRENGTHS) do
    labels[i] = strength_label(value)
  end
  local widgets = {
    steps = dt.new_widget("slider") {
      label = _("steps"),
      tooltip = string.format(_("curve iterations %d..%d: fewer = gentler brightening"), MIN_STEPS, MAX_STEPS),
      soft_min = MIN_STEPS, soft_max = MAX_STEPS, hard_min = MIN_STEPS, hard_max = MAX_STEPS,
      step = 1, digits = 0,
    },
    strength = dt.new_widget("combobox") {
      label = _("strength"),
      tooltip = _("auto adapts to each photo's exposure; a percentage scales the curves (100 % = as trained)"),
      selected = index_of(STRENGTHS, stored.strength),
      changed_callback = save_widgets,
      table.unpack(labels),
    },
    denoise = dt.new_widget("check_button") {
      label = _("denoise"),
      tooltip = _("smooth the noise that brightening reveals"),
      value = stored.denoise,
      clicked_callback = save_widgets,
    },
  }
  -- After the constructor: it sets fields in no fixed order, and a value set before the range is clamped.
  widgets.steps.value = stored.steps
  widgets.box = dt.new_widget("box") {
    orientation = "vertical",
    widgets.steps,
    widgets.strength,
    widgets.denoise,
  }
  return widgets
end

local function on_path(name)
  local p = io.popen(on_host("command -v " .. M.shell_quote(name)) .. " 2>/dev/null")
  local found = p and p:read("l")
  if p then
    p:close()
  end
  return found
end

--- The engine to run: the preference, else the one `zdce install` recorded, else `zdce` on PATH.
-- Returns nil and a message the user can act on when none is runnable.
function M.find_engine(executable)
  local candidate = executable
  if candidate == nil or candidate == "" then
    candidate = INSTALLED_ENGINE ~= "" and INSTALLED_ENGINE or on_path("zdce")
  end
  if not candidate or candidate == "" then
    return nil, _("Zero-DCE engine not found: install zdce and run `zdce install darktable`, "
      .. "or set the path of the zdce executable in preferences > lua options")
  end
  if M.run("test -x " .. M.shell_quote(candidate)) ~= 0 then
    return nil, string.format(_("Zero-DCE engine not found at %s: "
      .. "fix the path of the zdce executable in preferences > lua options"), candidate)
  end
  return candidate
end

-- ---------------------------------------------------------------- user feedback

--- Tell the user: a toast in the GUI (stdout in library mode), and the log for errors.
function M.notify(message, is_error)
  if is_error then
    dt.print_error(message)
  end
  dt.print(message)
end

--- A progress reporter: a job bar in the GUI, nothing extra without one.
function M.progress(title)
  local job = dt.gui and dt.gui.create_job and dt.gui.create_job(title, true)
  return {
    update = function(fraction)
      if job then
        job.percent = math.max(0, math.min(1, fraction))
      end
    end,
    finish = function()
      if job then
        job.valid = false
      end
    end,
  }
end

-- ---------------------------------------------------------------- the processing path

--- The line of the engine's output that says what went wrong: its first
-- "failed ..." line (one per photo), else its last line (a usage or start-up error).
local function engine_reason(text)
  local last = ""
  for line in (text or ""):gmatch("[^\n]+") do
    if line:match("^%s*failed") then
      return (line:gsub("^%s*failed%s*", ""))
    end
    last = line
  end
  return last
end

--- Enhance exported files and bring the results into the library.
--
-- `items` is a list of { image = <dt_lua_image_t>, file = <exported path> } with
-- every exported file inside `workdir`, which this function removes on every path.
-- Returns a table { ok = bool, message = string, imported = { <dt_lua_image_t>... } }.
function M.process(items, workdir, settings, progress)
  progress = progress or M.progress(_("Zero-DCE"))
  local result = { ok = false, message = "", imported = {} }
  local ok, err = pcall(function()
    if #items == 0 then
      result.message = _("Zero-DCE: no images to enhance")
      return
    end
    local engine, why = M.find_engine(settings.executable)
    if not engine then
      result.message = why
      return
    end
    local outdir = workdir .. "/out"
    local log = workdir .. "/engine.log"
    local words = { M.shell_quote(engine), "batch", "-q", "--steps", tostring(settings.steps),
      "--strength", M.shell_quote(settings.strength), "--quality", tostring(JPEG_QUALITY), "-o", M.shell_quote(outdir) }
    if not settings.denoise then
      words[#words + 1] = "--no-denoise"
    end
    for _n, item in ipairs(items) do
      words[#words + 1] = M.shell_quote(item.file)
    end
    local command = table.concat(words, " ") .. " >" .. M.shell_quote(log) .. " 2>&1"
    M.notify(string.format(_("Zero-DCE: enhancing %d image(s)..."), #items))
    progress.update(0.5)
    local status = M.run(command)
    -- 1 = some photos failed (the others are done); anything else = nothing usable.
    if status ~= 0 and status ~= 1 then
      result.message = string.format(_("Zero-DCE engine failed (exit %s): %s"), tostring(status),
        engine_reason(read_all(log)))
      return
    end
    local failed = 0
    local tag = dt.tags.create(TAG)
    for i, item in ipairs(items) do
      local _dir, stem, ext = split_path(item.file)
      local produced = string.format("%s/%s.%s", outdir, stem, ext)
      if M.file_exists(produced) then
        local _orig_dir, orig_stem = split_path(item.image.filename)
        local target = M.free_name(item.image.path, orig_stem, ext)
        local moved, merr = M.move(produced, target)
        if not moved then
          error(string.format(_("cannot write %s: %s"), target, tostring(merr)))
        end
        local new = dt.database.import(target)
        new:group_with(item.image)
        dt.tags.attach(tag, new)
        result.imported[#result.imported + 1] = new
      else
        failed = failed + 1
      end
      progress.update(0.5 + 0.5 * i / #items)
    end
    if failed > 0 then
      local reason = engine_reason(read_all(log))
      -- The engine names our intermediate file; the user knows the original.
      for _n, item in ipairs(items) do
        local from, to = reason:find(item.file, 1, true)
        if from then
          reason = reason:sub(1, from - 1) .. item.image.path .. "/" .. item.image.filename .. reason:sub(to + 1)
        end
      end
      result.message = string.format(_("Zero-DCE: %d of %d image(s) failed: %s"), failed, #items, reason)
      return
    end
    result.ok = true
    result.message = string.format(_("Zero-DCE: %d image(s) enhanced and imported"), #result.imported)
  end)
  M.remove_tree(workdir)
  progress.finish()
  if not ok then
    result.ok = false
    result.message = string.format(_("Zero-DCE failed: %s"), tostring(err))
  end
  M.notify(result.message, not result.ok)
  return result
end

--- Name of an intermediate file: numbered so equal names from different film rolls cannot clash.
local function work_name(workdir, number, image, ext)
  local _dir, stem = split_path(image.filename)
  return string.format("%s/%d-%s.%s", workdir, number, stem, ext)
end

--- The shortcut path: export `images` in the preferred format, then `process` them.
function M.enhance_images(images, settings)
  settings = settings or M.settings()
  local progress = M.progress(_("Zero-DCE"))
  local workdir, items = nil, {}
  local ok, err = pcall(function()
    workdir = M.make_temp_dir()
    local format
    if settings.format == FORMATS.jpeg then
      format = dt.new_format("jpeg")
      format.quality = JPEG_QUALITY
    else
      format = dt.new_format("tiff")
      format.bpp = 16
    end
    for i, image in ipairs(images) do
      local file = work_name(workdir, i, image, format.extension)
      format:write_image(image, file)
      -- Its return value is no success flag to rely on (darktable 4.2 returns false on success).
      if not M.file_exists(file) then
        error(string.format(_("export of %s failed"), image.filename))
      end
      items[#items + 1] = { image = image, file = file }
      progress.update(0.5 * i / #images)
    end
  end)
  if not ok then
    M.remove_tree(workdir)
    progress.finish()
    local message = string.format(_("Zero-DCE failed: %s"), tostring(err))
    M.notify(message, true)
    return { ok = false, message = message, imported = {} }
  end
  return M.process(items, workdir, settings, progress)
end

-- ---------------------------------------------------------------- storage callbacks

function M.storage_supported(storage, format)
  return format.extension == "tif" or format.extension == "jpg"
end

function M.storage_initialize(storage, format, images, high_quality, extra_data)
  extra_data.workdir = M.make_temp_dir()
  extra_data.items = {}
  extra_data.progress = M.progress(_("Zero-DCE"))
  return nil
end

--- Called per exported image: move it into our folder, so it is removed with it.
function M.storage_store(storage, image, format, filename, number, total, high_quality, extra_data)
  local file = work_name(extra_data.workdir, number, image, format.extension)
  local moved, err = M.move(filename, file)
  if moved then
    extra_data.items[#extra_data.items + 1] = { image = image, file = file }
  else
    os.remove(filename)
    M.notify(string.format(_("Zero-DCE: cannot stage %s: %s"), image.filename, tostring(err)), true)
  end
  extra_data.progress.update(0.5 * number / total)
end

function M.storage_finalize(storage, image_table, extra_data)
  return M.process(extra_data.items, extra_data.workdir, M.settings(), extra_data.progress)
end

-- ---------------------------------------------------------------- registration

local function api_at_least(major, minor)
  local have_major = dt.configuration.api_version_major
  local have_minor = dt.configuration.api_version_minor
  return have_major > major or (have_major == major and have_minor >= minor)
end

local function selected_images()
  local images = {}
  for _n, image in ipairs(dt.gui.action_images) do
    images[#images + 1] = image
  end
  return images
end

local function register()
  -- Widgets need the GUI; library mode reads the stored settings only.
  if dt.gui then
    M.widgets = make_widgets()
    -- A slider has no change callback: store its last value when darktable quits.
    dt.register_event(EXIT_EVENT, "exit", save_widgets)
  end
  dt.register_storage(STORAGE, _("Low-light enhance (Zero-DCE)"), M.storage_store, M.storage_finalize,
    M.storage_supported, M.storage_initialize, M.widgets and M.widgets.box)
  dt.register_event(SHORTCUT_EVENT, "shortcut", function(event, shortcut)
    local images = selected_images()
    if #images == 0 then
      M.notify(_("Zero-DCE: select one or more images first"), true)
      return
    end
    M.enhance_images(images)
  end, _("enhance selected images with Zero-DCE"))
end

local function destroy()
  save_widgets()
  if M.widgets then
    dt.destroy_event(EXIT_EVENT, "exit")
  end
  dt.destroy_storage(STORAGE)
  dt.destroy_event(SHORTCUT_EVENT, "shortcut")
end

local script_data = {}
script_data.metadata = {
  name = _("Zero-DCE low-light enhance"),
  purpose = _("enhance dark photos with the Zero-DCE engine and import the results next to the originals"),
  author = "zdce contributors",
}
-- A storage and an event can be removed for real: no destroy_method "hide", no show.
script_data.destroy = destroy
script_data.restart = register
-- The plain functions, for the headless tests (library mode has no GUI).
script_data.functions = M

if not api_at_least(MIN_API[1], MIN_API[2]) then
  dt.print_error(string.format(_("%s needs darktable Lua API %d.%d or newer, this is %s"),
    MODULE, MIN_API[1], MIN_API[2], dt.configuration.api_version_string))
  return script_data
end

-- Preference widgets need the GUI: in library mode registering them hangs darktable 4.2.
if dt.gui then
  dt.preferences.register(MODULE, "executable", "file", _("Zero-DCE: zdce executable"),
    _("path of the zdce program; empty = the one `zdce install darktable` recorded, else zdce on PATH"),
    INSTALLED_ENGINE)
  dt.preferences.register(MODULE, "format", "enum", _("Zero-DCE: format for the shortcut"),
    _("file format of enhanced images made with the shortcut (the export module picks its own)"),
    FORMATS.tiff, FORMATS.tiff, FORMATS.jpeg)
end

register()

return script_data
