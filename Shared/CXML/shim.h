// libxml2 (Debian libxml2-dev) for Shared/XML, the only code that includes it.
#ifndef FAIRWAY_CXML_H
#define FAIRWAY_CXML_H

// Debian builds libxml2 with ICU, and <libxml/encoding.h> then includes the system ICU headers,
// whose types clash with the ICU inside Foundation in any module that imports both. Nothing here
// touches the encoding handler struct whose layout depends on it, so ICU is left out of view.
#include <libxml/xmlversion.h>
#undef LIBXML_ICU_ENABLED
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

// xmlFree is a global function pointer, which Swift 6 sees as shared mutable state.
static inline void fw_xml_free(void *pointer) { xmlFree(pointer); }

#endif
