/* Zip reading for .npz files. The central directory (found through the end-of-central-directory
 * record, or its zip64 form) is the authority for sizes and offsets: numpy writes its members with
 * force_zip64, so local headers carry 0xFFFFFFFF placeholders and real sizes in an extra field.
 * Every offset and length read from the file is checked against the buffer before use. */
#include "npz.h"

#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "tensor.h"

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_ZIP64_EOCD 0x06064b50u
#define SIG_ZIP64_LOCATOR 0x07064b50u

#define EOCD_SIZE 22
#define ZIP64_LOCATOR_SIZE 20
#define ZIP64_EOCD_MIN_SIZE 56
#define CENTRAL_SIZE 46
#define LOCAL_SIZE 30
#define ZIP64_EXTRA_ID 0x0001

/* A member holds one .npy: the largest tensor plus a header (at most 4 GiB by format). */
#define MAX_MEMBER_BYTES (CR_MAX_TENSOR_BYTES + ((uint64_t)1 << 32))
/* Deflate cannot expand data by more than about 1032:1; a claimed size beyond that is a lie we
 * refuse before allocating for it. */
#define MAX_DEFLATE_RATIO 1032
/* A zip bomb declares its true size, which the ratio above cannot catch: a member inflating to
 * more than ZIP_BOMB_MIN_BYTES at over ZIP_BOMB_RATIO:1 is refused before anything is allocated.
 * Arrays of real numbers compress little (float32 noise about 1.1:1); only constant data comes
 * near deflate's 1032:1, and a quarter-gigabyte array of it is more likely an attack than an
 * input. The message tells the owner of a real one to store it (numpy.savez). Apache POI guards
 * zip files the same way. */
#define ZIP_BOMB_MIN_BYTES ((uint64_t)256 << 20)
#define ZIP_BOMB_RATIO 100

typedef struct zip_entry {
    const char *name;
    size_t name_len;
    uint16_t flags, method;
    uint32_t crc;
    uint64_t comp_size, uncomp_size, local_offset;
} zip_entry;

static uint16_t rd16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const unsigned char *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* True if [off, off + len) lies inside a buffer of `size` bytes. */
static bool in_bounds(uint64_t off, uint64_t len, uint64_t size)
{
    return off <= size && len <= size - off;
}

static cnnrun_status *bad_zip(const char *what, const char *detail)
{
    return cr_error(CNNRUN_ERR_INVALID_MODEL, "%s: corrupt .npz (zip) archive: %s", what, detail);
}

bool cr_npz_has_magic(const void *data, size_t size)
{
    return size >= 4 && (memcmp(data, "PK\x03\x04", 4) == 0 || memcmp(data, "PK\x05\x06", 4) == 0);
}

typedef struct central_dir {
    uint64_t offset, size, entries;
} central_dir;

/* Finds the end-of-central-directory record: the last 22+ bytes, before an optional comment. */
static cnnrun_status *find_central_dir(const unsigned char *b, size_t size, const char *what,
                                       central_dir *cd)
{
    if (size < EOCD_SIZE) return bad_zip(what, "too short to hold an end-of-central-directory record");
    size_t lowest = size - EOCD_SIZE > 65535 ? size - EOCD_SIZE - 65535 : 0;
    size_t pos = size - EOCD_SIZE;
    for (;;) {
        if (rd32(b + pos) == SIG_EOCD && pos + EOCD_SIZE + rd16(b + pos + 20) == size) break;
        if (pos == lowest)
            return bad_zip(what, "no end-of-central-directory record (truncated file?)");
        pos--;
    }
    const unsigned char *e = b + pos;
    if (rd16(e + 4) != 0 || rd16(e + 6) != 0)
        return cr_error(CNNRUN_ERR_UNSUPPORTED, "%s: multi-disk zip archives are not supported", what);
    cd->entries = rd16(e + 10);
    cd->size = rd32(e + 12);
    cd->offset = rd32(e + 16);
    uint64_t records_start = pos;

    if (pos >= ZIP64_LOCATOR_SIZE && rd32(b + pos - ZIP64_LOCATOR_SIZE) == SIG_ZIP64_LOCATOR) {
        const unsigned char *loc = b + pos - ZIP64_LOCATOR_SIZE;
        uint64_t z64 = rd64(loc + 8);
        records_start = pos - ZIP64_LOCATOR_SIZE;
        if (!in_bounds(z64, ZIP64_EOCD_MIN_SIZE, records_start) || rd32(b + z64) != SIG_ZIP64_EOCD)
            return bad_zip(what, "the zip64 locator does not point to a zip64 end record");
        const unsigned char *r = b + z64;
        if (rd32(r + 16) != 0 || rd32(r + 20) != 0)
            return cr_error(CNNRUN_ERR_UNSUPPORTED, "%s: multi-disk zip archives are not supported",
                            what);
        cd->entries = rd64(r + 32);
        cd->size = rd64(r + 40);
        cd->offset = rd64(r + 48);
        records_start = z64;
    }
    if (!in_bounds(cd->offset, cd->size, records_start))
        return cr_error(CNNRUN_ERR_INVALID_MODEL,
                        "%s: corrupt .npz (zip) archive: central directory at offset %" PRIu64
                        " of %" PRIu64 " bytes runs past its end records at offset %" PRIu64
                        " (truncated?)",
                        what, cd->offset, cd->size, records_start);
    if (cd->entries > cd->size / CENTRAL_SIZE)
        return cr_error(CNNRUN_ERR_INVALID_MODEL,
                        "%s: corrupt .npz (zip) archive: %" PRIu64
                        " entries cannot fit in a central directory of %" PRIu64 " bytes",
                        what, cd->entries, cd->size);
    return NULL;
}

/* Replaces saturated 32-bit fields by the 64-bit values of the zip64 extra field. */
static cnnrun_status *apply_zip64_extra(const unsigned char *x, size_t len, bool need_disk,
                                        zip_entry *e, const char *what)
{
    bool need_uncomp = e->uncomp_size == 0xFFFFFFFFu, need_comp = e->comp_size == 0xFFFFFFFFu;
    bool need_off = e->local_offset == 0xFFFFFFFFu;
    if (!need_uncomp && !need_comp && !need_off && !need_disk) return NULL;
    size_t p = 0;
    while (len - p >= 4) {
        uint16_t id = rd16(x + p), n = rd16(x + p + 2);
        if (n > len - p - 4) return bad_zip(what, "an extra field runs past its entry");
        if (id == ZIP64_EXTRA_ID) {
            const unsigned char *f = x + p + 4;
            size_t need = 8u * (need_uncomp + need_comp + need_off) + 4u * need_disk;
            if (n < need) return bad_zip(what, "a zip64 extra field is too short for its entry");
            if (need_uncomp) { e->uncomp_size = rd64(f); f += 8; }
            if (need_comp) { e->comp_size = rd64(f); f += 8; }
            if (need_off) e->local_offset = rd64(f);
            return NULL;
        }
        p += 4u + n;
    }
    return bad_zip(what, "an entry has 32-bit placeholder sizes but no zip64 extra field");
}

/* Parses the central directory entry at *pos (inside [.., end)) and advances *pos past it. */
static cnnrun_status *read_central_entry(const unsigned char *b, uint64_t *pos, uint64_t end,
                                         const char *what, zip_entry *e)
{
    if (!in_bounds(*pos, CENTRAL_SIZE, end) || rd32(b + *pos) != SIG_CENTRAL)
        return bad_zip(what, "a central directory entry is missing or truncated");
    const unsigned char *c = b + *pos;
    e->flags = rd16(c + 8);
    e->method = rd16(c + 10);
    e->crc = rd32(c + 16);
    e->comp_size = rd32(c + 20);
    e->uncomp_size = rd32(c + 24);
    uint16_t name_len = rd16(c + 28), extra_len = rd16(c + 30), comment_len = rd16(c + 32);
    e->local_offset = rd32(c + 42);
    uint64_t var_len = (uint64_t)name_len + extra_len + comment_len;
    if (!in_bounds(*pos + CENTRAL_SIZE, var_len, end))
        return bad_zip(what, "a central directory entry's name or extra field is truncated");
    e->name = (const char *)c + CENTRAL_SIZE;
    e->name_len = name_len;
    CR_TRY(apply_zip64_extra(c + CENTRAL_SIZE + name_len, extra_len, rd16(c + 34) == 0xFFFF, e, what));
    *pos += CENTRAL_SIZE + var_len;
    return NULL;
}

/* Locates the member's data through its local header. */
static cnnrun_status *member_data(const unsigned char *b, size_t size, const zip_entry *e,
                                  const char *what, const unsigned char **data)
{
    if (!in_bounds(e->local_offset, LOCAL_SIZE, size) || rd32(b + e->local_offset) != SIG_LOCAL)
        return cr_error(CNNRUN_ERR_INVALID_MODEL,
                        "%s: corrupt .npz (zip) archive: member '%.*s' has no local header at "
                        "offset %" PRIu64,
                        what, (int)e->name_len, e->name, e->local_offset);
    const unsigned char *l = b + e->local_offset;
    uint16_t name_len = rd16(l + 26), extra_len = rd16(l + 28);
    uint64_t start = e->local_offset + LOCAL_SIZE + name_len + extra_len;
    if (name_len != e->name_len || !in_bounds(e->local_offset + LOCAL_SIZE, name_len, size) ||
        memcmp(l + LOCAL_SIZE, e->name, name_len) != 0)
        return cr_error(CNNRUN_ERR_INVALID_MODEL,
                        "%s: corrupt .npz (zip) archive: the local header of member '%.*s' names "
                        "another file",
                        what, (int)e->name_len, e->name);
    if (!in_bounds(start, e->comp_size, size))
        return cr_error(CNNRUN_ERR_INVALID_MODEL,
                        "%s: corrupt .npz (zip) archive: member '%.*s' claims %" PRIu64
                        " bytes at offset %" PRIu64 ", past the end of the %zu-byte file",
                        what, (int)e->name_len, e->name, e->comp_size, start, size);
    *data = b + start;
    return NULL;
}

/* Raw deflate (no zlib header) of exactly e->comp_size bytes into exactly e->uncomp_size bytes. */
static cnnrun_status *inflate_member(const unsigned char *src, const zip_entry *e, const char *what,
                                     unsigned char *dst)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, -15) != Z_OK)
        return cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "%s: cannot initialise zlib", what);
    uint64_t in_left = e->comp_size, out_left = e->uncomp_size;
    zs.next_in = (unsigned char *)(uintptr_t)src; /* zlib's API is not const-correct */
    zs.next_out = dst;
    int rc = Z_OK;
    while (rc == Z_OK) {
        /* Feed at most UINT_MAX at a time: avail_in and avail_out are 32-bit. */
        if (zs.avail_in == 0 && in_left) {
            zs.avail_in = (uInt)(in_left < UINT_MAX ? in_left : UINT_MAX);
            in_left -= zs.avail_in;
        }
        if (zs.avail_out == 0 && out_left) {
            zs.avail_out = (uInt)(out_left < UINT_MAX ? out_left : UINT_MAX);
            out_left -= zs.avail_out;
        }
        rc = inflate(&zs, Z_NO_FLUSH);
        if (rc == Z_BUF_ERROR && (zs.avail_in || in_left) && (zs.avail_out || out_left)) rc = Z_OK;
    }
    bool exact = rc == Z_STREAM_END && zs.total_out == e->uncomp_size && zs.avail_out == 0 &&
                 out_left == 0;
    inflateEnd(&zs);
    if (!exact)
        return cr_error(CNNRUN_ERR_INVALID_MODEL,
                        "%s: corrupt .npz (zip) archive: member '%.*s' does not inflate to its "
                        "declared %" PRIu64 " bytes (%s)",
                        what, (int)e->name_len, e->name, e->uncomp_size,
                        rc == Z_STREAM_END ? "size differs" : zs.msg ? zs.msg : "truncated stream");
    return NULL;
}

static uint32_t crc_of(const unsigned char *p, uint64_t n)
{
    uLong crc = crc32_z(0L, Z_NULL, 0);
    return (uint32_t)crc32_z(crc, p, (z_size_t)n);
}

/* A member name that a tool extracting the archive would write outside its folder: absolute, or
 * with a ".." component (numpy.savez never writes one). The name becomes an array name, which the
 * caller may well use as a file name. */
static bool is_separator(char c) { return c == '/' || c == '\\'; }

static bool name_escapes(const char *name, size_t len)
{
    if (len > 0 && is_separator(name[0])) return true;
    for (size_t i = 0; i + 1 < len; i++) {
        bool starts = i == 0 || is_separator(name[i - 1]);
        bool ends = i + 2 == len || is_separator(name[i + 2]);
        if (name[i] == '.' && name[i + 1] == '.' && starts && ends) return true;
    }
    return false;
}

/* Checks the entry's metadata, produces its uncompressed bytes and passes them on. */
static cnnrun_status *read_member(const unsigned char *b, size_t size, const zip_entry *e,
                                  const char *what, cr_npz_member_fn fn, void *ctx)
{
    int nl = (int)e->name_len;
    if (e->flags & 1u)
        return cr_error(CNNRUN_ERR_UNSUPPORTED, "%s: member '%.*s' is encrypted", what, nl, e->name);
    if (e->method != 0 && e->method != 8)
        return cr_error(CNNRUN_ERR_UNSUPPORTED,
                        "%s: member '%.*s' uses compression method %u; only stored (0) and "
                        "deflated (8) are supported",
                        what, nl, e->name, (unsigned)e->method);
    if (e->name_len <= 4 || memcmp(e->name + e->name_len - 4, ".npy", 4) != 0 ||
        memchr(e->name, '\0', e->name_len))
        return cr_error(CNNRUN_ERR_INVALID_MODEL,
                        "%s: member '%.*s' is not a .npy file (an .npz holds only '<name>.npy')",
                        what, nl, e->name);
    if (name_escapes(e->name, e->name_len))
        return cr_error(CNNRUN_ERR_INVALID_MODEL,
                        "%s: member name '%.*s' is absolute or has a '..' component; .npz member "
                        "names are plain array names",
                        what, nl, e->name);
    if (e->uncomp_size > MAX_MEMBER_BYTES)
        return cr_error(CNNRUN_ERR_OUT_OF_MEMORY,
                        "%s: member '%.*s' claims %" PRIu64 " bytes, over the limit", what, nl,
                        e->name, e->uncomp_size);
    const unsigned char *src = NULL;
    CR_TRY(member_data(b, size, e, what, &src));

    unsigned char *buf = NULL;
    const unsigned char *bytes = src;
    if (e->method == 0) {
        if (e->comp_size != e->uncomp_size)
            return cr_error(CNNRUN_ERR_INVALID_MODEL,
                            "%s: corrupt .npz (zip) archive: stored member '%.*s' has compressed "
                            "size %" PRIu64 " but size %" PRIu64,
                            what, nl, e->name, e->comp_size, e->uncomp_size);
    } else {
        if (e->uncomp_size / MAX_DEFLATE_RATIO > e->comp_size + 1)
            return cr_error(CNNRUN_ERR_INVALID_MODEL,
                            "%s: corrupt .npz (zip) archive: member '%.*s' claims %" PRIu64
                            " bytes from only %" PRIu64 " compressed bytes",
                            what, nl, e->name, e->uncomp_size, e->comp_size);
        if (e->uncomp_size > ZIP_BOMB_MIN_BYTES && e->uncomp_size / ZIP_BOMB_RATIO > e->comp_size)
            return cr_error(CNNRUN_ERR_INVALID_MODEL,
                            "%s: member '%.*s' inflates %" PRIu64 " bytes to %" PRIu64
                            " (over %d:1 and %" PRIu64 " MiB): refused as a likely zip bomb; store "
                            "a real array of that size uncompressed (numpy.savez)",
                            what, nl, e->name, e->comp_size, e->uncomp_size, ZIP_BOMB_RATIO,
                            ZIP_BOMB_MIN_BYTES >> 20);
        buf = malloc(e->uncomp_size ? (size_t)e->uncomp_size : 1);
        if (!buf)
            return cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "%s: cannot allocate %" PRIu64
                            " bytes to inflate member '%.*s'", what, e->uncomp_size, nl, e->name);
        cnnrun_status *st = inflate_member(src, e, what, buf);
        if (st) {
            free(buf);
            return st;
        }
        bytes = buf;
    }
    cnnrun_status *st = NULL;
    uint32_t crc = crc_of(bytes, e->uncomp_size);
    if (crc != e->crc) {
        st = cr_error(CNNRUN_ERR_INVALID_MODEL,
                      "%s: corrupt .npz (zip) archive: CRC-32 of member '%.*s' is %08" PRIx32
                      ", expected %08" PRIx32,
                      what, nl, e->name, crc, e->crc);
    } else {
        char *name = malloc(e->name_len - 3), *member = malloc(e->name_len + 1);
        if (!name || !member) {
            st = cr_error(CNNRUN_ERR_OUT_OF_MEMORY, "%s: cannot allocate a member name", what);
        } else {
            memcpy(name, e->name, e->name_len - 4);
            name[e->name_len - 4] = '\0';
            memcpy(member, e->name, e->name_len);
            member[e->name_len] = '\0';
            st = fn(ctx, name, member, bytes, (size_t)e->uncomp_size);
        }
        free(name);
        free(member);
    }
    free(buf);
    return st;
}

cnnrun_status *cr_npz_read(const void *data, size_t size, const char *what, cr_npz_member_fn fn,
                           void *ctx)
{
    const unsigned char *b = data;
    central_dir cd = {0};
    CR_TRY(find_central_dir(b, size, what, &cd));
    uint64_t pos = cd.offset, end = cd.offset + cd.size;
    for (uint64_t i = 0; i < cd.entries; i++) {
        zip_entry e = {0};
        CR_TRY(read_central_entry(b, &pos, end, what, &e));
        CR_TRY(read_member(b, size, &e, what, fn, ctx));
    }
    return NULL;
}
