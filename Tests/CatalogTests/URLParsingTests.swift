import FairwayCatalog
import Testing

@Suite struct DatabaseURLTests {
    @Test func parsesPostgresURLs() throws {
        let configuration = try DatabaseURL.configuration("postgres://fairway_qc:s%40cret@127.0.0.1:55432/fairway?sslmode=disable")
        #expect(configuration.host == "127.0.0.1")
        #expect(configuration.port == 55432)
        #expect(configuration.username == "fairway_qc")
        #expect(configuration.password == "s@cret")
        #expect(configuration.database == "fairway")
        #expect(!DatabaseURL.redacted("postgres://u:s3cret@h/db").contains("s3cret"))
    }

    @Test(arguments: ["", "fairway", "mysql://u@h/db", "postgres://h/db", "postgres://u@/db", "postgres://u@h/",
                      "postgres://u@h/a/b", "postgres://u@h/db?sslmode=maybe", String(repeating: "x", count: 4096)])
    func refusesBadURLs(url: String) {
        #expect(throws: DatabaseURLError.self) { try DatabaseURL.configuration(url) }
    }
}
