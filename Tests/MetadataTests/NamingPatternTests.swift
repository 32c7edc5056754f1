import FairwayMetadata
import Foundation
import Testing

/// File-naming patterns: annotations from good names, precise reasons for bad ones, refused patterns, hostile names.
@Suite struct NamingPatternTests {
    static let facility = "{date:yyyy-MM-dd}_{project}_{sample}_{creator}_{condition}_{type}_v{version}"
    static let expected = [
        "date": "2024-05-01", "project": "P1", "sample": "S3", "creator": "ada", "condition": "ctrl", "type": "raw", "version": "2",
    ]

    func match(_ pattern: String, _ name: String) throws -> NamingPattern.Match {
        try NamingPattern(pattern).match(fileName: name)
    }

    /// Why the pattern is refused, or nil if it is accepted.
    func refusal(_ pattern: String) -> String? {
        do {
            _ = try NamingPattern(pattern)
            return nil
        } catch {
            return error.description
        }
    }

    @Test func facilityPatternListsItsFields() throws {
        let pattern = try NamingPattern(Self.facility)
        #expect(pattern.pattern == Self.facility)
        #expect(pattern.fields == ["date", "project", "sample", "creator", "condition", "type", "version"])
    }

    @Test(arguments: [
        "2024-05-01_P1_S3_ada_ctrl_raw_v2.ome.tif", "2024-05-01_P1_S3_ada_ctrl_raw_v2.tif", "2024-05-01_P1_S3_ada_ctrl_raw_v2.czi",
        "2024-05-01_P1_S3_ada_ctrl_raw_v2", "2024-05-01_P1_S3_ada_ctrl_raw_v2.OME.TIFF", "2024-05-01_P1_S3_ada_ctrl_raw_v2.ome.zarr",
        "2024-05-01_P1_S3_ada_ctrl_raw_v2.tar.gz",
    ])
    func facilityNamesMatchWithAnyExtension(name: String) throws {
        #expect(try match(Self.facility, name) == .matched(Self.expected))
    }

    @Test func aVersionWithADotIsNotTakenForAnExtension() throws {
        #expect(try match("{sample}_v{version}", "S3_v1.2") == .matched(["sample": "S3", "version": "1.2"]))
        #expect(try match("{sample}_v{version}", "S3_v1.2.czi") == .matched(["sample": "S3", "version": "1.2"]))
    }

    @Test func anImpossibleMonthIsReported() throws {
        #expect(try match(Self.facility, "2024-13-01_P1_S3_ada_ctrl_raw_v2.tif")
            == .mismatch("does not match \(Self.facility): '2024-13-01' is not a date for {date} (month 13)"))
    }

    @Test func leapDaysFollowTheCalendar() throws {
        #expect(try match("{d:yyyy-MM-dd}", "2024-02-29.tif") == .matched(["d": "2024-02-29"]))
        #expect(try match("{d:yyyy-MM-dd}", "2000-02-29") == .matched(["d": "2000-02-29"]))
        #expect(try match("{d:yyyy-MM-dd}", "2024-02-30.tif") == .mismatch("does not match {d:yyyy-MM-dd}: '2024-02-30' is not a date for {d} (2024-02 has 29 days)"))
        #expect(try match("{d:yyyy-MM-dd}", "2023-02-29") == .mismatch("does not match {d:yyyy-MM-dd}: '2023-02-29' is not a date for {d} (2023-02 has 28 days)"))
        #expect(try match("{d:yyyy-MM-dd}", "1900-02-29") == .mismatch("does not match {d:yyyy-MM-dd}: '1900-02-29' is not a date for {d} (1900-02 has 28 days)"))
    }

    @Test func datesAndTimesAreNormalisedToISO8601() throws {
        #expect(try match("{d:yyyyMMdd}_{s}", "20240501_S3.czi") == .matched(["d": "2024-05-01", "s": "S3"]))
        #expect(try match("{t:yyyy-MM-ddTHHmmss}_{s}", "2024-05-01T134509_S3") == .matched(["t": "2024-05-01T13:45:09", "s": "S3"]))
        #expect(try match("{t:yyyy-MM-dd'T'HHmmss}_{s}", "2024-05-01T134509_S3") == .matched(["t": "2024-05-01T13:45:09", "s": "S3"]))
        #expect(try match("{t:dd.MM.yyyy_HH.mm}", "01.05.2024_09.30") == .matched(["t": "2024-05-01T09:30:00"]))
        #expect(try match("{t:yyyyMMddHHmmss}", "20240501240000")
            == .mismatch("does not match {t:yyyyMMddHHmmss}: '20240501240000' is not a date for {t} (hour 24)"))
        #expect(try match("{d:yyyy-MM-dd}_{s}", "2024-5-01_S3")
            == .mismatch("does not match {d:yyyy-MM-dd}_{s}: expected a date yyyy-MM-dd for {d}, found '2024-5-01_S3'"))
    }

    @Test func aDateFieldMayBeFollowedDirectlyByAnotherField() throws {
        #expect(try match("{d:yyyyMMdd}{rest}", "20240501abc") == .matched(["d": "2024-05-01", "rest": "abc"]))
    }

    @Test func intAndAlnumFields() throws {
        let pattern = "{plate:alnum}-{well:alnum}_{n:int}"
        #expect(try match(pattern, "P12-A01_0042.tif") == .matched(["plate": "P12", "well": "A01", "n": "0042"]))
        #expect(try match(pattern, "P12-A01_4b.tif") == .mismatch("does not match \(pattern): expected the end of the name after {n}, found 'b'"))
        #expect(try match(pattern, "P12-A01_x4.tif") == .mismatch("does not match \(pattern): expected digits for {n}, found 'x4'"))
        #expect(try match(pattern, "P_12-A01_4.tif") == .mismatch("does not match \(pattern): expected '-' after {plate}, found '_12-A01_4'"))
    }

    @Test func doubledBracesAreLiteral() throws {
        let pattern = try NamingPattern("{{{name}}}_{{x}}")
        #expect(pattern.fields == ["name"])
        #expect(pattern.match(fileName: "{abc}_{x}.tif") == .matched(["name": "abc"]))
        #expect(pattern.match(fileName: "abc_{x}.tif") == .mismatch("does not match {{{name}}}_{{x}}: expected '{' at the start, found 'abc_{x}'"))
    }

    @Test func earlierFieldsTakeTheShortestValue() throws {
        #expect(try match("{a}_{b}", "x_y_z") == .matched(["a": "x", "b": "y_z"]))
        #expect(try match("{a}_{b}_{c}", "p_q_r_s.tif") == .matched(["a": "p", "b": "q", "c": "r_s"]))
        // The shortest {a} ("x") leaves "_v_v2", where {n:int} cannot start; the next one that works is "x_v".
        #expect(try match("{a}_v{n:int}", "x_v_v2") == .matched(["a": "x_v", "n": "2"]))
        #expect(try match("{a}-{b}_{c}", "x-y-z_w_v") == .matched(["a": "x", "b": "y-z", "c": "w_v"]))
    }

    @Test func aMissingLiteralIsReportedWhereItWasExpected() throws {
        let name = "2024-05-01_P1_S3_ada_ctrl_raw_2.tif"
        #expect(try match(Self.facility, name) == .mismatch("does not match \(Self.facility): expected '_v' after {type}, found '_2'"))
        #expect(try match("{a}_{b}_{c}", "x_y") == .mismatch("does not match {a}_{b}_{c}: expected '_' after {b}, found the end of the name"))
        #expect(try match("{a}_{b}", "") == .mismatch("does not match {a}_{b}: expected a value for {a}, found the end of the name"))
    }

    @Test(arguments: [
        ("", "the pattern is empty"),
        ("a/{b}", "the pattern contains '/': a pattern describes a file name, not a path"),
        ("{a", "unbalanced braces: '{' at character 1 is never closed (write '{{' for a literal brace)"),
        ("{a}}", "unbalanced braces: '}' at character 4 has no matching '{' (write '}}' for a literal brace)"),
        ("x}", "unbalanced braces: '}' at character 2 has no matching '{' (write '}}' for a literal brace)"),
        ("{a{b}}", "nested braces: '{' at character 3 is inside the field opened at character 1"),
        ("{}", "empty field name at character 1"),
        ("x_{:int}", "empty field name at character 3"),
        ("{1a}", "invalid field name '1a': a name starts with a letter and has at most 64 letters (A-Z, a-z), digits and underscores"),
        ("{a-b}", "invalid field name 'a-b': a name starts with a letter and has at most 64 letters (A-Z, a-z), digits and underscores"),
        ("{Mäuse}", "invalid field name 'Mäuse': a name starts with a letter and has at most 64 letters (A-Z, a-z), digits and underscores"),
        ("{a:float}", "unknown format 'float' for {a}: use int, alnum, or a date format built from yyyy, MM, dd, HH, mm, ss and the separators - _ . T"),
        ("{a:}", "unknown format '' for {a}: use int, alnum, or a date format built from yyyy, MM, dd, HH, mm, ss and the separators - _ . T"),
        ("{d:yyyy-MMM-dd}", "unknown format 'yyyy-MMM-dd' for {d}: 'MMM' is not a date part; use int, alnum, or a date format built from yyyy, MM, dd, HH, mm, ss and the separators - _ . T"),
        ("{d:yyyy-MM}", "unknown format 'yyyy-MM' for {d}: a date format needs yyyy, MM and dd"),
        ("{d:yyyy-MM-dd_mm}", "unknown format 'yyyy-MM-dd_mm' for {d}: a time needs HH before mm, and mm before ss"),
        ("{d:yyyy-MM-dd-dd}", "unknown format 'yyyy-MM-dd-dd' for {d}: dd appears twice"),
        ("{d:yyyy-MM-dd:HH}", "unknown format 'yyyy-MM-dd:HH' for {d}: use int, alnum, or a date format built from yyyy, MM, dd, HH, mm, ss and the separators - _ . T"),
        ("{a}_{b}_{a}", "field {a} appears twice"),
        ("{a}{b}", "ambiguous: {a} and {b} have no literal text between them, so where {a} ends is unknown; put a separator between them or give {a} a date format"),
        ("x_{n:int}{s:alnum}_y", "ambiguous: {n} and {s} have no literal text between them, so where {n} ends is unknown; put a separator between them or give {n} a date format"),
    ])
    func refusedPatterns(pattern: String, reason: String) {
        #expect(refusal(pattern) == reason)
    }

    @Test func patternSizeLimits() throws {
        #expect(refusal(String(repeating: "x", count: 513)) == "the pattern is 513 characters long, more than 512")
        _ = try NamingPattern(String(repeating: "x", count: 512))
        let fields = (1 ... 33).map { "{f\($0)}" }
        _ = try NamingPattern(fields.prefix(32).joined(separator: "_"))
        #expect(refusal(fields.joined(separator: "_")) == "more than 32 fields")
        let longName = "a" + String(repeating: "b", count: 63)
        #expect(try NamingPattern("{\(longName)}").fields == [longName])
        #expect(refusal("{\(longName)c}") == "invalid field name '\(longName)c': a name starts with a letter and has at most 64 letters (A-Z, a-z), digits and underscores")
    }

    @Test func hostileUnderscoresStayPolynomial() throws {
        let pattern = try NamingPattern((1 ... 30).map { "{f\($0)}" }.joined(separator: "_"))
        let underscores = String(repeating: "_", count: 1000)
        // Every field can be "_", so this matches: the first 29 take one underscore each, the last the remaining 942.
        var expected = Dictionary(uniqueKeysWithValues: (1 ... 29).map { ("f\($0)", "_") })
        expected["f30"] = String(repeating: "_", count: 942)
        #expect(pattern.match(fileName: underscores) == .matched(expected))

        // No assignment can work: the literal tail never appears.
        let tailed = try NamingPattern((1 ... 30).map { "{f\($0)}" }.joined(separator: "_") + "_end")
        #expect(tailed.match(fileName: underscores + "x") == .mismatch("does not match \(tailed.pattern): expected '_end' after {f30}, found '_x'"))
    }

    @Test func overlongNamesAreFlaggedNotParsed() throws {
        let pattern = try NamingPattern("{a}")
        #expect(pattern.match(fileName: String(repeating: "_", count: 2000) + ".tif")
            == .mismatch("does not match {a}: the name is 2004 characters long, more than 1024"))
        let limit = String(repeating: "é", count: 1024)
        #expect(pattern.match(fileName: limit) == .matched(["a": limit]))
    }

    @Test func nonASCIINames() throws {
        #expect(try match(Self.facility, "2024-05-01_Mäuse_S3_Zoë_ctrl_raw_v2.ome.tif")
            == .matched(["date": "2024-05-01", "project": "Mäuse", "sample": "S3", "creator": "Zoë", "condition": "ctrl", "type": "raw", "version": "2"]))
        #expect(try match("{s:alnum}_{n:int}", "Mäuse_3.czi") == .matched(["s": "Mäuse", "n": "3"]))
        // A decomposed ä (a + combining diaeresis) matches a precomposed literal: comparison is by character.
        #expect(try match("M\u{E4}use_{n}", "Ma\u{308}use_7") == .matched(["n": "7"]))
        #expect(try match("{s:alnum}_{n:int}", "Mäuse_٣") == .mismatch("does not match {s:alnum}_{n:int}: expected digits for {n}, found '٣'"))
    }

    @Test func namesWithSlashesAreNotFileNames() throws {
        #expect(try match("{a}_{b}", "dir/x_y.tif") == .mismatch("does not match {a}_{b}: 'dir/x_y.tif' contains '/'; expected a file name, not a path"))
        #expect(try match("{a}", "/") == .mismatch("does not match {a}: '/' contains '/'; expected a file name, not a path"))
    }

    @Test func codableAsThePatternText() throws {
        let pattern = try NamingPattern(Self.facility)
        let data = try JSONEncoder().encode([pattern])
        #expect(String(decoding: data, as: UTF8.self) == #"["{date:yyyy-MM-dd}_{project}_{sample}_{creator}_{condition}_{type}_v{version}"]"#)
        #expect(try JSONDecoder().decode([NamingPattern].self, from: data) == [pattern])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([NamingPattern].self, from: Data(#"["{a}{b}"]"#.utf8)) }
    }
}
