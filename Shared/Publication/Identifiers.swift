/// An ORCID iD: four groups of four digits, the last character a check digit (ISO 7064 MOD 11-2,
/// `X` for 10). Written bare (`0000-0002-1825-0097`) or as `https://orcid.org/…`.
public struct ORCID: Sendable, Hashable, CustomStringConvertible {
    /// The bare form, `0000-0002-1825-0097`.
    public let value: String

    public init?(_ text: String) {
        var bare = Substring(text.trimmingCharacters(in: .whitespaces))
        for prefix in ["https://orcid.org/", "http://orcid.org/", "orcid.org/"] where bare.hasPrefix(prefix) {
            bare = bare.dropFirst(prefix.count)
        }
        let groups = bare.split(separator: "-", omittingEmptySubsequences: false)
        guard groups.count == 4, groups.allSatisfy({ $0.count == 4 }) else { return nil }
        let characters = Array(groups.joined())
        guard characters.prefix(15).allSatisfy({ $0.isASCII && $0.isNumber }),
              let last = characters.last, last == "X" || (last.isASCII && last.isNumber) else { return nil }
        var total = 0
        for character in characters.prefix(15) { total = (total + Int(String(character))!) * 2 }
        let check = (12 - total % 11) % 11
        guard String(last) == (check == 10 ? "X" : String(check)) else { return nil }
        value = String(bare)
    }

    public var url: String { "https://orcid.org/\(value)" }
    public var description: String { value }
}

/// A ROR id: `https://ror.org/0` followed by six Crockford base32 characters and a two-digit
/// check (ISO 7064 MOD 97-10 of the base32 number), e.g. `https://ror.org/019tgvf94`.
public struct RORID: Sendable, Hashable, CustomStringConvertible {
    /// The full URL form.
    public let url: String

    public init?(_ text: String) {
        var bare = Substring(text.trimmingCharacters(in: .whitespaces).lowercased())
        for prefix in ["https://ror.org/", "http://ror.org/", "ror.org/"] where bare.hasPrefix(prefix) {
            bare = bare.dropFirst(prefix.count)
        }
        guard bare.count == 9, bare.first == "0", let digits = Int(bare.suffix(2)), bare.suffix(2).allSatisfy(\.isNumber) else { return nil }
        var number = 0
        for character in bare.prefix(7) {
            guard let value = Crockford.value(of: character) else { return nil }
            number = number * 32 + value
        }
        guard 98 - (number * 100) % 97 == digits else { return nil }
        url = "https://ror.org/\(bare)"
    }

    public var description: String { url }
}

/// Crockford's base32: digits and letters without I, L, O and U; read case-insensitively, with
/// I and L read as 1 and O as 0.
enum Crockford {
    static let symbols = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
    /// The five extra check symbols for values 32...36.
    static let checkSymbols = symbols + Array("*~$=U")

    static func value(of character: Character) -> Int? {
        switch character.uppercased() {
        case "I", "L": return 1
        case "O": return 0
        default:
            guard let upper = character.uppercased().first else { return nil }
            return symbols.firstIndex(of: upper)
        }
    }
}

/// The suffix Fairway chooses for a publication's DOI before any remote call: eight random
/// Crockford base32 symbols (40 bits) and Crockford's check symbol (mod 37), as `XXXX-XXXXC`.
/// Bodies whose check would be one of `*~$=U` are drawn again, so every suffix stays in the
/// 32-symbol alphabet and safe in any URL; a mistyped or transposed symbol fails the check.
public struct DOISuffix: Sendable, Hashable, CustomStringConvertible {
    public let value: String

    public static func random<Generator: RandomNumberGenerator>(using generator: inout Generator) -> DOISuffix {
        while true {
            let body = (0 ..< 8).map { _ in Int.random(in: 0 ..< 32, using: &generator) }
            let check = body.reduce(0) { $0 * 32 + $1 } % 37
            guard check < 32 else { continue }
            let symbols = body.map { String(Crockford.symbols[$0]) }.joined()
            return DOISuffix(unchecked: "\(symbols.prefix(4))-\(symbols.dropFirst(4))\(Crockford.checkSymbols[check])")
        }
    }

    public static func random() -> DOISuffix {
        var generator = SystemRandomNumberGenerator()
        return random(using: &generator)
    }

    private init(unchecked value: String) { self.value = value }

    /// Reads a suffix and checks its check symbol (case-insensitive).
    public init?(_ text: String) {
        let upper = text.uppercased()
        let parts = upper.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 4, parts[1].count == 5 else { return nil }
        var number = 0
        for character in parts[0] + parts[1].prefix(4) {
            guard let value = Crockford.symbols.firstIndex(of: character) else { return nil }
            number = number * 32 + value
        }
        guard let check = parts[1].last, Crockford.checkSymbols[number % 37] == check else { return nil }
        value = upper
    }

    public var description: String { value }
}

/// A DOI name: a prefix `10.NNNN` (a registrant code of digits, optionally dotted) and a suffix.
public struct DOIName: Sendable, Hashable, CustomStringConvertible {
    public let prefix: String
    public let suffix: String

    public init(prefix: String, suffix: DOISuffix) {
        self.prefix = prefix; self.suffix = suffix.value
    }

    /// Whether `prefix` has the form DataCite hands out (`10.` then digits, dots between).
    public static func isPrefix(_ prefix: String) -> Bool {
        prefix.range(of: "^10\\.[0-9]{4,9}(\\.[0-9]+)*$", options: .regularExpression) != nil
    }

    /// Reads `10.1234/XXXX-XXXXC` (also with `doi:` or `https://doi.org/` before it); the suffix
    /// must be one of Fairway's.
    public init?(_ text: String) {
        var bare = Substring(text.trimmingCharacters(in: .whitespaces))
        for prefix in ["https://doi.org/", "http://doi.org/", "doi:"] where bare.lowercased().hasPrefix(prefix) {
            bare = bare.dropFirst(prefix.count)
        }
        guard let slash = bare.firstIndex(of: "/") else { return nil }
        let prefix = String(bare[..<slash])
        guard Self.isPrefix(prefix), let suffix = DOISuffix(String(bare[bare.index(after: slash)...])) else { return nil }
        self.prefix = prefix; self.suffix = suffix.value
    }

    public var description: String { "\(prefix)/\(suffix)" }
    public var url: String { "https://doi.org/\(prefix)/\(suffix)" }
}
