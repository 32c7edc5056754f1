import FairwayXML
import Testing

/// The hardened libxml2 wrapper: what it reads, what it refuses, and how it writes.
@Suite struct XMLDocumentTests {
    @Test func readsAndRewritesADocument() throws {
        let document = try XMLDocument(parsing: """
            <?xml version="1.0" encoding="UTF-8"?>
            <OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06"><Image ID="Image:0" Name="a &amp; b"><Pixels SizeX="4"/></Image></OME>
            """)
        let root = document.root
        #expect(root.name == "OME" && root.namespace == "http://www.openmicroscopy.org/Schemas/OME/2016-06")
        let image = try #require(root.first("Image"))
        #expect(image["Name"] == "a & b" && image["Missing"] == nil)
        #expect(image.first("Pixels")?["SizeX"] == "4")
        image.add("AnnotationRef", attributes: [("ID", "Annotation:<1>\"")])
        image.first("Pixels")?.add("TiffData", attributes: [("IFD", "0")], text: "x < y & z")
        image.remove(childrenNamed: ["Nothing"])
        let text = document.serialized()
        #expect(text.contains(#"<AnnotationRef ID="Annotation:&lt;1&gt;&quot;"/>"#), "\(text)")
        #expect(text.contains("x &lt; y &amp; z"))
        let again = try XMLDocument(parsing: text)
        #expect(again.root.first("Image")?.first("AnnotationRef")?["ID"] == "Annotation:<1>\"")
        #expect(again.root.first("Image")?.first("Pixels")?.first("TiffData")?.text == "x < y & z")
        image.remove(childrenNamed: ["AnnotationRef"])
        #expect(image.children.map(\.name) == ["Pixels"])
    }

    @Test func hostileDocumentsAreRefusedWithTheReason() {
        let cases: [(String, String)] = [
            // External entity (XXE): never fetched, the DTD itself is refused.
            ("<?xml version=\"1.0\"?><!DOCTYPE OME [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><OME>&x;</OME>", "DTD"),
            // Billion laughs: libxml2 stops at the nested references already; never expanded.
            ("<!DOCTYPE l [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">]><l>&c;</l>", "entit"),
            ("<!DOCTYPE OME SYSTEM \"http://example.org/ome.dtd\"><OME/>", "DTD"),
            ("<OME><Image></OME>", "line 1"),
            ("<OME>\n<Image>\n</Pixels></OME>", "line 3"),
            ("", "empty"),
            ("just text", "line 1"),
            ("<a>" + String(repeating: "<b>", count: 300) + String(repeating: "</b>", count: 300) + "</a>", "line 1"),
            ("<OME>&undefined;</OME>", "undefined"),
        ]
        for (text, words) in cases {
            #expect(throws: XMLError.self, "\(text.prefix(50))") { try XMLDocument(parsing: text) }
            do { _ = try XMLDocument(parsing: text) } catch { #expect(error.description.contains(words), "\(text.prefix(50)): \(error)") }
        }
        var limits = XMLLimits()
        limits.maxBytes = 100
        #expect(throws: XMLError("document of 101 bytes is over the 100 accepted")) {
            try XMLDocument(parsing: "<a>" + String(repeating: "x", count: 94) + "</a>", limits: limits)
        }
    }
}
