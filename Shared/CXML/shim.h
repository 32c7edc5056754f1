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
#include <libxml/parserInternals.h>
#include <libxml/xmlschemas.h>
#include <libxml/xmlschemastypes.h>
#include <stdio.h>
#include <string.h>

// xmlFree is a global function pointer, which Swift 6 sees as shared mutable state.
static inline void fw_xml_free(void *pointer) { xmlFree(pointer); }

// --- XSD schemas (Shared/XML/XMLSchema.swift) ---
// libxml2 2.9 reads a schema's imports and includes itself, with parse options of its own (no
// XML_PARSE_NONET) and through the one process-wide external entity loader: there is no
// per-schema hook. So the loader below replaces it, for every parse in the process: local files
// only, never a socket. Everything else in Fairway parses with XML_PARSE_NONET, so it only tightens.

// Whether `url` starts with a URL scheme other than file: ("http:", "https:", "ftp:", …).
static inline int fw_xml_is_remote(const char *url) {
    const char *p = url;
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))) return 0;
    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '+' || *p == '-' || *p == '.') p++;
    if (*p != ':') return 0;
    return !(p - url == 4 && xmlStrncasecmp((const xmlChar *)url, (const xmlChar *)"file", 4) == 0);
}

static inline int fw_xml_is_xml_namespace_schema(const char *url) {
    const char *rest = NULL;
    if (xmlStrncasecmp((const xmlChar *)url, (const xmlChar *)"http://", 7) == 0) rest = url + 7;
    else if (xmlStrncasecmp((const xmlChar *)url, (const xmlChar *)"https://", 8) == 0) rest = url + 8;
    if (rest == NULL) return 0;
    return strcmp(rest, "www.w3.org/2001/xml.xsd") == 0 || strcmp(rest, "www.w3.org/2001/03/xml.xsd") == 0
        || strcmp(rest, "www.w3.org/2009/01/xml.xsd") == 0;
}

// The XML namespace's attributes (xml:lang, xml:space, xml:base, xml:id), declared as the XML,
// XML Base and xml:id recommendations define them. Nearly every XSD, OME's included, imports them
// from www.w3.org; this stands in for that download.
static inline const char *fw_xml_namespace_schema(void) {
    return
        "<xs:schema xmlns:xs='http://www.w3.org/2001/XMLSchema' targetNamespace='http://www.w3.org/XML/1998/namespace'>"
        "<xs:attribute name='lang'><xs:simpleType><xs:union memberTypes='xs:language'><xs:simpleType>"
        "<xs:restriction base='xs:string'><xs:enumeration value=''/></xs:restriction></xs:simpleType></xs:union></xs:simpleType></xs:attribute>"
        "<xs:attribute name='space'><xs:simpleType><xs:restriction base='xs:NCName'>"
        "<xs:enumeration value='default'/><xs:enumeration value='preserve'/></xs:restriction></xs:simpleType></xs:attribute>"
        "<xs:attribute name='base' type='xs:anyURI'/>"
        "<xs:attribute name='id' type='xs:ID'/>"
        "<xs:attributeGroup name='specialAttrs'><xs:attribute ref='xml:lang'/><xs:attribute ref='xml:space'/>"
        "<xs:attribute ref='xml:base'/><xs:attribute ref='xml:id'/></xs:attributeGroup>"
        "</xs:schema>";
}

// Tells the calling thread's structured error handler (set by fw_xml_schema_parse) what was refused.
static inline void fw_xml_report_refusal(const char *url) {
    xmlStructuredErrorFunc handler = xmlStructuredError;
    if (handler == NULL) return;
    char message[700];
    snprintf(message, sizeof message, "refused to fetch %.600s: network access is off, schemas and what they import or include are read from local files only", url);
    xmlError error;
    memset(&error, 0, sizeof error);
    error.domain = XML_FROM_IO;
    error.code = XML_IO_NETWORK_ATTEMPT;
    error.level = XML_ERR_FATAL;
    error.message = message;
    error.str1 = (char *)url;
    handler(xmlStructuredErrorContext, &error);
}

static inline xmlParserInputPtr fw_xml_local_only_loader(const char *url, const char *id, xmlParserCtxtPtr context) {
    (void)id;
    if (url == NULL) return NULL;
    if (fw_xml_is_xml_namespace_schema(url)) {
        xmlParserInputPtr input = xmlNewStringInputStream(context, (const xmlChar *)fw_xml_namespace_schema());
        if (input != NULL) input->filename = (const char *)xmlStrdup((const xmlChar *)url);
        return input;
    }
    if (fw_xml_is_remote(url)) {
        fw_xml_report_refusal(url);
        // A clean slate makes the schema parser report "failed to parse" (an error), not "not found"
        // (which it would skip with a warning for an import).
        xmlResetLastError();
        return NULL;
    }
    // A plain file read: no catalog lookup (a catalog could name a URL), no network input handler.
    return xmlNewInputFromFile(context, url);
}

// Once per process, before the first schema: the loader above, and the built-in types' tables,
// which libxml2 2.9 would otherwise build without a lock on first use by any thread.
static inline void fw_xml_schema_setup(void) {
    xmlInitParser();
    xmlSchemaInitTypes();
    xmlSetExternalEntityLoader(fw_xml_local_only_loader);
}

static inline void fw_xml_ignore_generic(void *context, const char *message, ...) { (void)context; (void)message; }

// The thread's error handlers, saved while a schema call reports to a handler of ours.
typedef struct {
    xmlStructuredErrorFunc structured;
    void *structuredContext;
    xmlGenericErrorFunc generic;
    void *genericContext;
} fw_xml_saved_handlers;

// Sends every report of this thread, including those of the parsers libxml2 starts for imports
// and includes (which have no handler of their own), to `handler`; nothing is printed.
static inline fw_xml_saved_handlers fw_xml_redirect_errors(xmlStructuredErrorFunc handler, void *context) {
    fw_xml_saved_handlers saved = { xmlStructuredError, xmlStructuredErrorContext, xmlGenericError, xmlGenericErrorContext };
    xmlSetStructuredErrorFunc(context, handler);
    xmlSetGenericErrorFunc(NULL, fw_xml_ignore_generic);
    return saved;
}

static inline void fw_xml_restore_errors(fw_xml_saved_handlers saved) {
    xmlSetStructuredErrorFunc(saved.structuredContext, saved.structured);
    xmlSetGenericErrorFunc(saved.genericContext, saved.generic);
}

// Compiles a schema with its reports going to `handler`; the thread's handlers are put back.
static inline xmlSchemaPtr fw_xml_schema_parse(xmlSchemaParserCtxtPtr parser, xmlStructuredErrorFunc handler, void *context) {
    xmlSchemaSetParserStructuredErrors(parser, handler, context);
    fw_xml_saved_handlers saved = fw_xml_redirect_errors(handler, context);
    xmlSchemaPtr schema = xmlSchemaParse(parser);
    fw_xml_restore_errors(saved);
    return schema;
}

// Validates with the reports going to `handler`, as above.
static inline int fw_xml_schema_validate(xmlSchemaValidCtxtPtr validator, xmlDocPtr document, xmlStructuredErrorFunc handler, void *context) {
    xmlSchemaSetValidStructuredErrors(validator, handler, context);
    fw_xml_saved_handlers saved = fw_xml_redirect_errors(handler, context);
    int status = xmlSchemaValidateDoc(validator, document);
    fw_xml_restore_errors(saved);
    return status;
}

#endif
