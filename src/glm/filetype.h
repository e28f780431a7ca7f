/* File types and names for attachments, pure: data: URLs, the type the
 * leading bytes show, MIME types by extension and back, the type to upload
 * with, and a safe file name. No I/O (a name may take random hex digits). */
#ifndef GLM_FILETYPE_H
#define GLM_FILETYPE_H

#include <stddef.h>

/* Decodes a data: URL (base64 or percent-encoded). mime gets its media type
 * without parameters ("" when none). Returns 0 with a new buffer (free()),
 * -1 when it is not a data: URL or its base64 is invalid. */
int filetype_data_url(const char *url, size_t len, char *mime, size_t mimelen,
                      unsigned char **data, size_t *n);
/* The MIME type the leading bytes show (PNG, JPEG, GIF, WebP, BMP, TIFF, PDF,
 * ZIP, OLE, RTF, UTF-8 text), or NULL. */
const char *filetype_sniff(const unsigned char *p, size_t n);
/* By the extension of a file name or URL path; NULL when unknown. */
const char *filetype_mime_for_name(const char *name);
/* A file extension (without the dot) for a MIME type; "bin" when unknown. */
const char *filetype_ext_for_mime(const char *mime);
/* The type to upload with: the declared one (a data URL's or the
 * Content-Type) unless it is generic (octet-stream), else the bytes, refined
 * or replaced by the name's extension. Returns 0, or -1 when unknown. */
int filetype_resolve(const char *declared, const unsigned char *p, size_t n, const char *name,
                     char *out, size_t outlen);
/* A safe file name: the given name or the last segment of a URL's path
 * (percent-decoded, unsafe characters replaced), else 32 random hex digits;
 * with an extension for mime when it has none. */
void filetype_filename(const char *name_or_url, const char *mime, char *out, size_t outlen);

#endif
