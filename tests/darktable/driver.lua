--[[
    Headless driver for tests/test_darktable.py: runs darktable as a Lua library,
    loads the installed zdce_enhance script and runs one of its processing paths.

    xvfb-run -a lua5.4 driver.lua CONFIGDIR MODE ENGINE STEPS FORMAT STRENGTH DENOISE REFDIR PHOTO...

    MODE is "storage" (what darktable's export module does with our storage:
    initialize, export each image to a temporary file, store, finalize) or
    "shortcut" (the shortcut's path: export in the preferred FORMAT, then process).
    STEPS, STRENGTH and DENOISE (yes/no) are stored as the export module's
    widgets store them. Each file darktable exported is copied into REFDIR just before the engine
    gets it, so the test can check it against the photo and run enhance() on the very same bytes.

    Output, one record per line, tab-separated:
      REF <original> <copy of its export, as the engine got it>
      RESULT <true|false> <message>
      IMPORTED <path> <group leader's path> <tags, ";"-joined>
      COUNT <images in the library>
]]

local configdir, mode, engine, steps, format_name = arg[1], arg[2], arg[3], tonumber(arg[4]), arg[5]
local strength, denoise, refdir = arg[6], arg[7], arg[8]
local photos = { table.unpack(arg, 9) }

local dt = require("darktable")("--library", ":memory:", "--configdir", configdir,
  "--cachedir", configdir .. "/cache", "--conf", "write_sidecar_files=never")

-- The copy `zdce install darktable --prefix CONFIGDIR` put there: darktable puts CONFIGDIR/lua on
-- package.path, but its Lua-file searcher needs the coroutine darktable runs luarc in, so load it directly.
-- darktable 4.2 in library mode finishes starting up on its own threads after init returns;
-- loading a script at once crashed 1 run in 4 ("attempt to call a table value" inside
-- register_storage/register_event), 0 in 12 after this pause, which lets start-up finish.
dt.control.sleep(1000)
local zdce = dofile(assert(package.searchpath("contrib/zdce_enhance", package.path))).functions

dt.preferences.write("zdce_enhance", "executable", "string", engine)
dt.preferences.write("zdce_enhance", "steps", "integer", steps)
dt.preferences.write("zdce_enhance", "format", "string", format_name)
dt.preferences.write("zdce_enhance", "strength", "string", strength)
dt.preferences.write("zdce_enhance", "denoise", "string", denoise)

local function new_format(jpeg)
  if jpeg then
    local f = dt.new_format("jpeg")
    f.quality = 95
    return f
  end
  local f = dt.new_format("tiff")
  f.bpp = 16
  return f
end

local images = {}
for i, photo in ipairs(photos) do
  images[i] = dt.database.import(photo)
end

dofile((arg[0]:match("^(.*/)") or "./") .. "keep_exports.lua")(zdce, function(i, item)
  local ref = string.format("%s/%d.%s", refdir, i, item.file:match("[^.]*$"))
  print(table.concat({ "REF", item.image.path .. "/" .. item.image.filename, ref }, "\t"))
  return ref
end)

local result
if mode == "storage" then
  local format = new_format(format_name == "JPEG")
  local extra, exported = {}, {}
  zdce.storage_initialize(nil, format, images, true, extra)
  for i, image in ipairs(images) do
    -- darktable exports into its temporary folder under the image's own name.
    local file = string.format("%s/%s.%s", dt.configuration.tmp_dir, image.filename:match("^(.*)%.[^.]*$"),
      format.extension)
    format:write_image(image, file)
    exported[image] = file
    zdce.storage_store(nil, image, format, file, i, #images, true, extra)
  end
  result = zdce.storage_finalize(nil, exported, extra)
else
  result = zdce.enhance_images(images)
end

print(table.concat({ "RESULT", tostring(result.ok), result.message }, "\t"))
for _, image in ipairs(result.imported) do
  local tags = {}
  for _, tag in ipairs(dt.tags.get_tags(image)) do
    tags[#tags + 1] = tag.name
  end
  local leader = image.group_leader
  print(table.concat({ "IMPORTED", image.path .. "/" .. image.filename, leader.path .. "/" .. leader.filename,
    table.concat(tags, ";") }, "\t"))
end
print(table.concat({ "COUNT", tostring(#dt.database) }, "\t"))
io.stdout:flush()
-- darktable's library mode does not shut down cleanly on its own.
os.exit(0)
