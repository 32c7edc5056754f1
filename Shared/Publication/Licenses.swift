/// Licences a dataset may be published under, by SPDX id, with their canonical URL. A licence
/// given as a URL must be one of these URLs (or their `http` form), so every DataCite record names
/// a licence a reader can look up.
public enum Licenses {
    public struct License: Sendable, Equatable {
        public let spdx: String
        public let name: String
        public let url: String
    }

    public static let known: [License] = [
        License(spdx: "CC-BY-4.0", name: "Creative Commons Attribution 4.0 International", url: "https://creativecommons.org/licenses/by/4.0/legalcode"),
        License(spdx: "CC-BY-SA-4.0", name: "Creative Commons Attribution Share Alike 4.0 International", url: "https://creativecommons.org/licenses/by-sa/4.0/legalcode"),
        License(spdx: "CC-BY-NC-4.0", name: "Creative Commons Attribution Non Commercial 4.0 International", url: "https://creativecommons.org/licenses/by-nc/4.0/legalcode"),
        License(spdx: "CC-BY-NC-SA-4.0", name: "Creative Commons Attribution Non Commercial Share Alike 4.0 International", url: "https://creativecommons.org/licenses/by-nc-sa/4.0/legalcode"),
        License(spdx: "CC-BY-ND-4.0", name: "Creative Commons Attribution No Derivatives 4.0 International", url: "https://creativecommons.org/licenses/by-nd/4.0/legalcode"),
        License(spdx: "CC0-1.0", name: "Creative Commons Zero v1.0 Universal", url: "https://creativecommons.org/publicdomain/zero/1.0/legalcode"),
        License(spdx: "Etalab-2.0", name: "Etalab Open License 2.0", url: "https://github.com/DISIC/politique-de-contribution-open-source/blob/master/LICENSE"),
        License(spdx: "ODbL-1.0", name: "Open Data Commons Open Database License v1.0", url: "https://opendatacommons.org/licenses/odbl/1-0/"),
        License(spdx: "ODC-By-1.0", name: "Open Data Commons Attribution License v1.0", url: "https://opendatacommons.org/licenses/by/1-0/"),
        License(spdx: "PDDL-1.0", name: "Open Data Commons Public Domain Dedication & License 1.0", url: "https://opendatacommons.org/licenses/pddl/1-0/"),
        License(spdx: "MIT", name: "MIT License", url: "https://opensource.org/licenses/MIT"),
        License(spdx: "Apache-2.0", name: "Apache License 2.0", url: "https://www.apache.org/licenses/LICENSE-2.0"),
    ]

    /// The licence an SPDX id (any case) or one of the URLs names.
    public static func find(_ text: String) -> License? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let byID = known.first(where: { $0.spdx.caseInsensitiveCompare(trimmed) == .orderedSame }) { return byID }
        let https = trimmed.hasPrefix("http://") ? "https://" + trimmed.dropFirst(7) : trimmed
        return known.first { $0.url == https || $0.url == https + "/" || $0.url.dropLast() == https }
    }
}
