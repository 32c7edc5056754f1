public import Foundation

/// Acquisition dates as images write them (OME `AcquisitionDate`, ImageJ and TIFF dates already
/// turned into ISO 8601 by the reader), as instants for range search. A date without a zone is
/// taken as UTC: microscope PCs rarely record theirs, and a day's precision is what search needs.
public enum AcquisitionDate {
    public static func instant(_ text: String) -> Date? {
        let bytes = Array(text.utf8.prefix(64))
        var index = 0
        func number(_ width: Int) -> Int? {
            guard index + width <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[index ..< index + width] {
                guard (48 ... 57).contains(byte) else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            index += width
            return value
        }
        func expect(_ characters: String) -> Bool {
            guard index < bytes.count, characters.utf8.contains(bytes[index]) else { return false }
            index += 1
            return true
        }
        guard let year = number(4), (1900 ... 9999).contains(year), expect("-:"), let month = number(2), expect("-:"), let day = number(2) else { return nil }
        var components = DateComponents(calendar: Calendar(identifier: .gregorian), timeZone: TimeZone(identifier: "UTC"), year: year, month: month, day: day)
        if index < bytes.count {
            guard expect("T "), let hour = number(2), expect(":"), let minute = number(2) else { return nil }
            components.hour = hour
            components.minute = minute
            if index < bytes.count, bytes[index] == UInt8(ascii: ":") {
                index += 1
                guard let second = number(2) else { return nil }
                components.second = second
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                var digits = 0, nanoseconds = 0
                while index < bytes.count, (48 ... 57).contains(bytes[index]) {
                    if digits < 9 { nanoseconds = nanoseconds * 10 + Int(bytes[index] - 48); digits += 1 }
                    index += 1
                }
                guard digits > 0 else { return nil }
                for _ in digits ..< 9 { nanoseconds *= 10 }
                components.nanosecond = nanoseconds
            }
            if index < bytes.count {
                if expect("Z") {
                    // UTC already.
                } else if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                    let sign = bytes[index] == UInt8(ascii: "-") ? -1 : 1
                    index += 1
                    guard let hours = number(2), hours < 24 else { return nil }
                    _ = expect(":")
                    guard let minutes = number(2), minutes < 60 else { return nil }
                    components.timeZone = TimeZone(secondsFromGMT: sign * (hours * 3600 + minutes * 60))
                } else {
                    return nil
                }
            }
            guard index == bytes.count, (0 ... 23).contains(hour), (0 ... 59).contains(minute), (0 ... 60).contains(components.second ?? 0) else { return nil }
        }
        guard (1 ... 12).contains(month), (1 ... 31).contains(day), components.isValidDate else { return nil }
        return components.date
    }
}
