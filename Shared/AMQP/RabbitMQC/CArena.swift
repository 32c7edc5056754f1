import CRabbitMQ
import Foundation

/// Owns the C memory behind one call into rabbitmq-c (strings, field tables) and frees it afterwards.
/// rabbitmq-c copies what it sends, so nothing needs to outlive the call.
final class CArena {
    private var allocations: [UnsafeMutableRawPointer] = []

    deinit { for pointer in allocations { free(pointer) } }

    func bytes(_ text: String) -> amqp_bytes_t { bytes(Array(text.utf8)) }

    func bytes(_ data: [UInt8]) -> amqp_bytes_t {
        guard !data.isEmpty, let pointer = malloc(data.count) else { return amqp_bytes_t(len: 0, bytes: nil) }
        allocations.append(pointer)
        data.withUnsafeBytes { pointer.copyMemory(from: $0.baseAddress!, byteCount: data.count) }
        return amqp_bytes_t(len: data.count, bytes: pointer)
    }

    func table(_ fields: [String: AMQPFieldValue]) -> amqp_table_t {
        guard !fields.isEmpty else { return amqp_table_t(num_entries: 0, entries: nil) }
        let entries = allocate(amqp_table_entry_t.self, count: fields.count)
        for (index, (key, value)) in fields.sorted(by: { $0.key < $1.key }).enumerated() {
            entries[index] = amqp_table_entry_t(key: bytes(key), value: field(value))
        }
        return amqp_table_t(num_entries: Int32(fields.count), entries: entries)
    }

    private func field(_ value: AMQPFieldValue) -> amqp_field_value_t {
        func make(_ kind: amqp_field_value_kind_t, _ value: amqp_field_value_t.__Unnamed_union_value) -> amqp_field_value_t {
            amqp_field_value_t(kind: UInt8(kind.rawValue), value: value)
        }
        switch value {
        case .string(let text): return make(AMQP_FIELD_KIND_UTF8, .init(bytes: bytes(text)))
        case .bytes(let data): return make(AMQP_FIELD_KIND_BYTES, .init(bytes: bytes(data)))
        case .bool(let flag): return make(AMQP_FIELD_KIND_BOOLEAN, .init(boolean: flag ? 1 : 0))
        case .int(let number): return make(AMQP_FIELD_KIND_I64, .init(i64: number))
        case .double(let number): return make(AMQP_FIELD_KIND_F64, .init(f64: number))
        case .timestamp(let seconds): return make(AMQP_FIELD_KIND_TIMESTAMP, .init(u64: seconds))
        case .table(let fields): return make(AMQP_FIELD_KIND_TABLE, .init(table: table(fields)))
        case .array(let values):
            let items = allocate(amqp_field_value_t.self, count: max(values.count, 1))
            for (index, item) in values.enumerated() { items[index] = field(item) }
            return make(AMQP_FIELD_KIND_ARRAY, .init(array: amqp_array_t(num_entries: Int32(values.count), entries: items)))
        case .void: return amqp_field_value_t(kind: UInt8(AMQP_FIELD_KIND_VOID.rawValue), value: .init())
        }
    }

    private func allocate<T>(_ type: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        let raw = calloc(count, MemoryLayout<T>.stride)!
        allocations.append(raw)
        return raw.bindMemory(to: T.self, capacity: count)
    }
}

/// Copies of C values into Swift ones; the C memory belongs to rabbitmq-c's pools.
enum CValues {
    static func string(_ bytes: amqp_bytes_t) -> String {
        guard bytes.len > 0, let base = bytes.bytes else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: base, count: bytes.len), as: UTF8.self)
    }

    static func array(_ bytes: amqp_bytes_t) -> [UInt8] {
        guard bytes.len > 0, let base = bytes.bytes else { return [] }
        return Array(UnsafeRawBufferPointer(start: base, count: bytes.len))
    }

    static func table(_ table: amqp_table_t) -> [String: AMQPFieldValue] {
        guard table.num_entries > 0, let entries = table.entries else { return [:] }
        var fields: [String: AMQPFieldValue] = [:]
        for index in 0..<Int(table.num_entries) {
            fields[string(entries[index].key)] = value(entries[index].value)
        }
        return fields
    }

    static func value(_ field: amqp_field_value_t) -> AMQPFieldValue {
        let value = field.value
        switch amqp_field_value_kind_t(rawValue: UInt32(field.kind)) {
        case AMQP_FIELD_KIND_BOOLEAN: return .bool(value.boolean != 0)
        case AMQP_FIELD_KIND_I8: return .int(Int64(value.i8))
        case AMQP_FIELD_KIND_U8: return .int(Int64(value.u8))
        case AMQP_FIELD_KIND_I16: return .int(Int64(value.i16))
        case AMQP_FIELD_KIND_U16: return .int(Int64(value.u16))
        case AMQP_FIELD_KIND_I32: return .int(Int64(value.i32))
        case AMQP_FIELD_KIND_U32: return .int(Int64(value.u32))
        case AMQP_FIELD_KIND_I64: return .int(value.i64)
        case AMQP_FIELD_KIND_U64: return .int(Int64(truncatingIfNeeded: value.u64))
        case AMQP_FIELD_KIND_F32: return .double(Double(value.f32))
        case AMQP_FIELD_KIND_F64: return .double(value.f64)
        case AMQP_FIELD_KIND_UTF8: return .string(string(value.bytes))
        case AMQP_FIELD_KIND_BYTES: return .bytes(array(value.bytes))
        case AMQP_FIELD_KIND_TIMESTAMP: return .timestamp(value.u64)
        case AMQP_FIELD_KIND_TABLE: return .table(table(value.table))
        case AMQP_FIELD_KIND_ARRAY:
            guard value.array.num_entries > 0, let entries = value.array.entries else { return .array([]) }
            return .array((0..<Int(value.array.num_entries)).map { self.value(entries[$0]) })
        default: return .void
        }
    }
}
