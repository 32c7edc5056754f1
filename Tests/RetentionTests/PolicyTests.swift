import FairwayRetention
import Foundation
import Testing

@Suite("Retention policy files")
struct PolicyTests {
    @Test("the issue's example policy reads back key by key")
    func example() throws {
        let policy = try RetentionPolicy.parse(yaml: Array("""
            replicateTo: vault
            cleanBufferAfter: 60d
            tierToColdAfterNoAccess: 2y
            verification: checksum
            expireAfter: 5y
            extension: 1y
            noticeBefore: [90d, 30d, 7d]
            quota: 100GB
            groupLifetime: 30d
            """.utf8))
        #expect(policy.replicateTo == .value("vault"))
        #expect(policy.cleanBufferAfter == .value(PolicyPeriod(count: 60, unit: .d)))
        #expect(policy.tierToColdAfterNoAccess == .value(PolicyPeriod(count: 2, unit: .y)))
        #expect(policy.noticeBefore.value?.map(\.days) == [90, 30, 7])
        #expect(policy.quota.value?.bytes == 100_000_000_000)
        #expect(policy.consistencyProblems().isEmpty)
        // The stored JSON gives the same policy back.
        #expect(try RetentionPolicy.parse(json: Data(policy.jsonText.utf8)) == policy)
    }

    @Test("invalid policies are refused with the offending key", arguments: [
        ("cleanBufferAfter: 60x", "cleanBufferAfter"),
        ("expireAfter: 5 years", "expireAfter"),
        ("verification: md5", "verification"),
        ("quota: lots", "quota"),
        ("noticeBefore: [90d, 0d]", "noticeBefore"),
        ("noticeBefore: [7d, 7d]", "noticeBefore"),
        ("replicateTo: ../etc", "replicateTo"),
        ("retainForever: yes", "retainForever"),
        ("expireAfter: 5y\nexpireAfter: 6y", "expireAfter"),
        ("quota: 99999999999999TB", "quota"),
        ("tierToColdAfterNoAccess: 2m", "tierToColdAfterNoAccess"),
    ])
    func refused(text: String, key: String) {
        #expect(throws: RetentionPolicyError.self) { try RetentionPolicy.parse(yaml: Array(text.utf8)) }
        do {
            _ = try RetentionPolicy.parse(yaml: Array(text.utf8))
        } catch {
            #expect(error.key == key, "\(error)")
        }
    }

    @Test("rules between keys are checked on the policy that applies")
    func consistency() throws {
        let own = try RetentionPolicy.parse(yaml: Array("cleanBufferAfter: 60d\nextension: 1y\nnoticeBefore: [90d]".utf8))
        #expect(Set(own.consistencyProblems().compactMap(\.key)) == ["cleanBufferAfter", "extension", "noticeBefore"])
        let facility = try RetentionPolicy.parse(yaml: Array("replicateTo: vault\nexpireAfter: 5y".utf8))
        #expect(own.over(facility).consistencyProblems().isEmpty)
        // `never` switches a facility default off for one investigation.
        let optOut = try RetentionPolicy.parse(yaml: Array("expireAfter: never".utf8))
        #expect(optOut.over(facility).expireAfter == .never)
        #expect(try RetentionPolicy.parse(yaml: Array("noticeBefore: [6y]\nexpireAfter: 5y".utf8)).consistencyProblems().map(\.key) == ["noticeBefore"])
    }

    @Test("hostile files are refused, not guessed at")
    func hostile() {
        for text in ["\u{0}", "replicateTo: &a vault\ntierTo: *a", "- a\n- b", "replicateTo: {a: b}", String(repeating: "a: b\n", count: 100_000) + "x"] {
            #expect(throws: RetentionPolicyError.self) { try RetentionPolicy.parse(yaml: Array(text.utf8)) }
        }
        #expect(throws: RetentionPolicyError.self) { try RetentionPolicy.parse(yaml: [0xC0, 0xAF]) }
    }
}
