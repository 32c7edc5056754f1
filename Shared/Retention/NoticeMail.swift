import CSMTP
public import Foundation

/// The e-mail that tells owners their data will be deleted, as RFC 5322 text.
public struct NoticeMail: Sendable {
    public let recipients: [String]
    public let subject: String
    public let body: String
    public let date: Date
    public let messageID: String

    /// The notice that an investigation reached 80 % or 100 % of its quota.
    public init(quota: QuotaState, level: Int, recipients: [String], date: Date) {
        self.recipients = recipients
        self.date = date
        let percent = quota.quotaBytes > 0 ? Int((Double(quota.usageBytes) * 100 / Double(quota.quotaBytes)).rounded(.down)) : 100
        subject = "[Fairway] \(quota.investigation) uses \(percent) % of its storage quota"
        var lines = [
            "Hello,",
            "",
            "Investigation \(quota.investigation) holds \(Self.bytes(quota.usageBytes)) of its \(Self.bytes(quota.quotaBytes)) quota (\(percent) %).",
        ]
        lines += level >= 100
            ? ["New acquisitions into it are refused until data is removed or the quota is raised."]
            : ["New acquisitions will be refused once it is full."]
        lines += ["", "-- ", "Fairway retention (quota notice at \(level) %)"]
        body = lines.joined(separator: "\n")
        messageID = "<quota-\(quota.investigationID.uuidString.lowercased())-\(level)-\(Int(date.timeIntervalSince1970))@fairway>"
    }

    public init(notice: PlannedNotice, recipients: [String], date: Date) {
        self.recipients = recipients
        self.date = date
        let count = notice.objectCount == 1 ? "1 object" : "\(notice.objectCount) objects"
        // The days actually left: a step reached while the service was down is sent late.
        let daysLeft = max(0, Int((notice.expiresAt.timeIntervalSince(date) / 86_400).rounded()))
        subject = "[Fairway] \(count) of \(notice.investigation) will be deleted on \(notice.expiresOn) (in \(daysLeft) days)"
        var lines = [
            "Hello,",
            "",
            "\(count) (\(Self.bytes(notice.totalBytes))) of investigation \(notice.investigation) owned by \(notice.owner)",
            "reach the end of their retention period on \(notice.expiresOn) and will be deleted then.",
            "",
            "To keep them, ask a facility operator to grant the investigation's extension",
            "(fairway retention extend --investigation \(notice.investigation)) or to place them on hold;",
            "published data is kept in any case.",
            "",
            "Objects:",
        ]
        lines += notice.logicalPaths.prefix(50).map { "  \($0)" }
        if notice.objectCount > 50 { lines.append("  … and \(notice.objectCount - 50) more") }
        lines += ["", "-- ", "Fairway retention (notice \(notice.daysBefore) days before expiry)"]
        body = lines.joined(separator: "\n")
        messageID = "<retention-\(notice.investigationID.uuidString.lowercased())-\(notice.expiresOn)-\(notice.daysBefore)-\(Self.token(notice.owner))@fairway>"
    }

    /// The whole message with CRLF line ends; headers are ASCII, the body UTF-8 (8bit).
    public func rfc5322(from: String) -> String {
        let headers = [
            "From: Fairway <\(from)>",
            "To: " + (recipients.isEmpty ? "undisclosed-recipients:;" : recipients.joined(separator: ", ")),
            "Subject: \(subject)",
            "Date: \(Self.rfc5322Date(date))",
            "Message-ID: \(messageID)",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: 8bit",
            "Auto-Submitted: auto-generated",
        ]
        return (headers + [""] + body.split(separator: "\n", omittingEmptySubsequences: false).map(String.init))
            .joined(separator: "\r\n") + "\r\n"
    }

    static func rfc5322Date(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter.string(from: date)
    }

    static func bytes(_ count: Int64) -> String {
        let units = ["bytes", "kB", "MB", "GB", "TB", "PB"]
        var value = Double(count), unit = 0
        while value >= 1000, unit < units.count - 1 { value /= 1000; unit += 1 }
        return unit == 0 ? "\(count) bytes" : String(format: "%.1f %@", value, units[unit])
    }

    /// A header-safe stand-in for a user name in the Message-ID.
    private static func token(_ text: String) -> String {
        String(text.unicodeScalars.map { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == ".") ? Character($0) : "_" })
    }
}

/// Where notices go. Returns the channel used (`smtp` or `mailbox`).
public protocol NoticeDelivery: Sendable {
    func deliver(_ mail: NoticeMail) async throws -> String
}

/// Sends notices through an SMTP server (FAIRWAY_SMTP_URL) with libcurl.
public struct SMTPDelivery: NoticeDelivery {
    public let url: String
    public let from: String
    public let timeoutSeconds: Int
    /// Keeps notices that have no recipient address.
    public let fallback: MailboxDelivery

    public init(url: String, from: String, fallback: MailboxDelivery, timeoutSeconds: Int = 60) {
        self.url = url; self.from = from; self.fallback = fallback; self.timeoutSeconds = timeoutSeconds
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public func deliver(_ mail: NoticeMail) async throws -> String {
        // Nobody to send to: the mailbox keeps the notice (the engine also logs it).
        guard !mail.recipients.isEmpty else { return try await fallback.deliver(mail) }
        let text = mail.rfc5322(from: from)
        let url = url, from = from, timeout = timeoutSeconds
        let result: Result<Void, Failure> = await withCheckedContinuation { continuation in
            Thread {
                var error = [CChar](repeating: 0, count: 512)
                let recipients = mail.recipients.map { strdup("<\($0)>") }
                defer { recipients.forEach { free($0) } }
                let code = recipients.map { UnsafePointer($0) }.withUnsafeBufferPointer { list in
                    text.withCString { message in
                        fairway_smtp_send(url, "<\(from)>", list.baseAddress, list.count, message, strlen(message), timeout, &error, error.count)
                    }
                }
                let reason = String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                continuation.resume(returning: code == 0 ? .success(()) : .failure(Failure(description: "SMTP delivery failed: \(reason) (libcurl code \(code))")))
            }.start()
        }
        try result.get()
        return "smtp"
    }
}

/// Appends notices to a local mailbox file (mbox format, readable by `mail -f` and mutt) when no
/// SMTP server is configured.
public struct MailboxDelivery: NoticeDelivery {
    public let path: String
    public let from: String

    public init(path: String, from: String) { self.path = path; self.from = from }

    public func deliver(_ mail: NoticeMail) async throws -> String {
        let asctime = DateFormatter()
        asctime.locale = Locale(identifier: "en_US_POSIX")
        asctime.timeZone = TimeZone(identifier: "UTC")
        asctime.dateFormat = "EEE MMM d HH:mm:ss yyyy"
        // mbox: a From_ line, the message with LF ends and body lines starting "From " quoted.
        let lines = mail.rfc5322(from: from).replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix("From ") || $0.hasPrefix(">From ") ? ">" + $0 : String($0) }
        let entry = "From \(from) \(asctime.string(from: mail.date))\n" + lines.joined(separator: "\n") + "\n"
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(entry.utf8))
        try handle.synchronize()
        return "mailbox"
    }
}
