#include "io/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <set>

#include <nlohmann/json.hpp>

#include "io/atomic_file.h"
#include "io/json_file.h"
#include "sarsteer/error.h"

namespace sarsteer::io {
namespace {

constexpr std::string_view kMetadataKey = "__metadata__";

struct DTypeInfo {
    DType dtype;
    std::string_view name;
    std::size_t size;
};

constexpr DTypeInfo kDTypes[] = {
    {DType::kF64, "F64", 8},   {DType::kF32, "F32", 4}, {DType::kF16, "F16", 2},
    {DType::kBF16, "BF16", 2}, {DType::kI64, "I64", 8}, {DType::kI32, "I32", 4},
    {DType::kI16, "I16", 2},   {DType::kI8, "I8", 1},   {DType::kU8, "U8", 1},
    {DType::kBool, "BOOL", 1},
};

const DTypeInfo& info(DType dtype) {
    for (const auto& entry : kDTypes) {
        if (entry.dtype == dtype) return entry;
    }
    throw std::logic_error("unknown DType");
}

[[noreturn]] void corrupt(const std::filesystem::path& path, const std::string& problem,
                          const std::string& hint = {}) {
    throw Error(ErrorKind::kCorruptInput, path.string(), problem, hint);
}

float half_to_float(std::uint16_t h) {
    const std::uint32_t sign = (h & 0x8000u) << 16;
    const std::uint32_t exponent = (h >> 10) & 0x1fu;
    std::uint32_t mantissa = h & 0x3ffu;
    std::uint32_t bits;
    if (exponent == 0x1f) {
        bits = sign | 0x7f800000u | (mantissa << 13);  // inf / nan
    } else if (exponent != 0) {
        bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
    } else if (mantissa == 0) {
        bits = sign;  // signed zero
    } else {
        // Subnormal half: normalise into a float exponent.
        int shift = 0;
        while ((mantissa & 0x400u) == 0) {
            mantissa <<= 1;
            ++shift;
        }
        bits = sign | (static_cast<std::uint32_t>(113 - shift) << 23) | ((mantissa & 0x3ffu) << 13);
    }
    return std::bit_cast<float>(bits);
}

float bf16_to_float(std::uint16_t b) {
    return std::bit_cast<float>(std::uint32_t{b} << 16);
}

template <typename T>
T load_le(const std::byte* p) {
    T value;
    std::memcpy(&value, p, sizeof(T));  // the files are little-endian, as is every target we build
    return value;
}

// Parses the JSON header while rejecting duplicate top-level keys, which nlohmann would
// otherwise resolve silently (last one wins) and so hide a lying header. Bounds what the header
// can make us allocate while it is parsed, not after: at most limits.max_tensors entries, each
// of a size a real entry has (a tensor's dtype/shape/data_offsets; __metadata__'s strings).
nlohmann::json parse_header(std::string_view text, const std::filesystem::path& path,
                            const SafetensorsLimits& limits) {
    // Parse events inside one top-level entry: a tensor has ~12 plus its rank.
    const std::size_t max_tensor_events = 32 + 2 * limits.max_rank;
    constexpr std::size_t kMaxMetadataEvents = std::size_t{1} << 16;  // 32768 key/value pairs
    std::set<std::string> seen;
    std::string duplicate;
    std::size_t n_entries = 0;
    std::size_t entry_events = 0;
    bool in_metadata = false;
    auto callback = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
        if (depth == 1 && event == nlohmann::json::parse_event_t::key) {
            auto key = parsed.get<std::string>();
            in_metadata = key == kMetadataKey;
            entry_events = 0;
            if (!in_metadata && ++n_entries > limits.max_tensors) {
                throw Error(ErrorKind::kLimitExceeded, path.string(),
                            "header lists more than the limit of " +
                                std::to_string(limits.max_tensors) + " tensors");
            }
            if (duplicate.empty() && !seen.insert(std::move(key)).second) {
                duplicate = parsed.get<std::string>();
            }
        } else if (depth >= 2 &&
                   ++entry_events > (in_metadata ? kMaxMetadataEvents : max_tensor_events)) {
            corrupt(path, in_metadata
                              ? "__metadata__ has more than " +
                                    std::to_string(kMaxMetadataEvents / 2) + " entries"
                              : "a tensor entry is larger than dtype, shape (rank <= " +
                                    std::to_string(limits.max_rank) + ") and data_offsets need");
        }
        return true;
    };
    nlohmann::json header;
    check_json_depth(text, path.string(), 8);  // a valid header nests 3 levels
    try {
        header = nlohmann::json::parse(text.begin(), text.end(), callback);
    } catch (const nlohmann::json::exception& e) {
        // parse_error for syntax, out_of_range.406 for a number too large for a double.
        std::string what = e.what();
        if (auto pos = what.find("] "); pos != std::string::npos) what = what.substr(pos + 2);
        corrupt(path, "safetensors header is not valid JSON: " + what);
    }
    if (!duplicate.empty()) corrupt(path, "safetensors header names \"" + duplicate + "\" twice");
    if (!header.is_object()) corrupt(path, "safetensors header is not a JSON object");
    return header;
}

std::uint64_t checked_u64(const nlohmann::json& value, const std::filesystem::path& path,
                          const std::string& what) {
    if (!value.is_number_unsigned() && !(value.is_number_integer() && value.get<int64_t>() >= 0)) {
        corrupt(path, what + " must be a non-negative integer, got " + value.dump());
    }
    return value.get<std::uint64_t>();
}

}  // namespace

std::string_view dtype_name(DType dtype) {
    return info(dtype).name;
}
std::size_t dtype_size(DType dtype) {
    return info(dtype).size;
}

std::optional<DType> parse_dtype(std::string_view name) {
    for (const auto& entry : kDTypes) {
        if (entry.name == name) return entry.dtype;
    }
    return std::nullopt;
}

int64_t TensorView::numel() const {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
}

std::vector<float> to_f32(const TensorView& view) {
    const auto n = static_cast<std::size_t>(view.numel());
    const std::byte* p = view.bytes.data();
    std::vector<float> out(n);
    switch (view.dtype) {
        case DType::kF32:
            if (n > 0) std::memcpy(out.data(), p, n * sizeof(float));
            break;
        case DType::kF64:
            for (std::size_t i = 0; i < n; ++i)
                out[i] = static_cast<float>(load_le<double>(p + 8 * i));
            break;
        case DType::kF16:
            for (std::size_t i = 0; i < n; ++i)
                out[i] = half_to_float(load_le<std::uint16_t>(p + 2 * i));
            break;
        case DType::kBF16:
            for (std::size_t i = 0; i < n; ++i)
                out[i] = bf16_to_float(load_le<std::uint16_t>(p + 2 * i));
            break;
        default:
            throw Error(
                ErrorKind::kUnsupported, view.name,
                "expected a floating-point tensor, got " + std::string(dtype_name(view.dtype)));
    }
    return out;
}

std::vector<int64_t> to_i64(const TensorView& view) {
    const auto n = static_cast<std::size_t>(view.numel());
    const std::byte* p = view.bytes.data();
    std::vector<int64_t> out(n);
    for (std::size_t i = 0; i < n; ++i) {
        switch (view.dtype) {
            case DType::kI64: out[i] = load_le<int64_t>(p + 8 * i); break;
            case DType::kI32: out[i] = load_le<int32_t>(p + 4 * i); break;
            case DType::kI16: out[i] = load_le<int16_t>(p + 2 * i); break;
            case DType::kI8: out[i] = load_le<int8_t>(p + i); break;
            case DType::kU8: out[i] = load_le<uint8_t>(p + i); break;
            case DType::kBool: out[i] = load_le<uint8_t>(p + i) != 0 ? 1 : 0; break;
            default:
                throw Error(
                    ErrorKind::kUnsupported, view.name,
                    "expected an integer tensor, got " + std::string(dtype_name(view.dtype)));
        }
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// SafetensorsFile

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path,
                                      const SafetensorsLimits& limits) {
    SafetensorsFile result;
    result.file_ = MappedFile::open(path);
    const auto bytes = result.file_->bytes();

    if (bytes.size() < 8) {
        corrupt(path,
                "file is " + std::to_string(bytes.size()) +
                    " bytes, too short for a safetensors header",
                "the file may be truncated");
    }
    const auto header_size = load_le<std::uint64_t>(bytes.data());
    if (header_size > limits.max_header_bytes) {
        corrupt(path, "header claims " + std::to_string(header_size) +
                          " bytes, more than the limit of " +
                          std::to_string(limits.max_header_bytes));
    }
    if (header_size > bytes.size() - 8) {
        corrupt(path,
                "header claims " + std::to_string(header_size) + " bytes but the file has only " +
                    std::to_string(bytes.size() - 8) + " after the length prefix",
                "the file may be truncated");
    }
    const std::string_view header_text(reinterpret_cast<const char*>(bytes.data() + 8),
                                       header_size);
    const auto header = parse_header(header_text, path, limits);
    const auto data = bytes.subspan(8 + header_size);

    const std::size_t n_tensors = header.size() - (header.contains(kMetadataKey) ? 1 : 0);
    if (n_tensors > limits.max_tensors) {
        throw Error(ErrorKind::kLimitExceeded, path.string(),
                    "header lists " + std::to_string(n_tensors) +
                        " tensors, more than the limit of " + std::to_string(limits.max_tensors));
    }

    for (const auto& [name, entry] : header.items()) {
        if (name == kMetadataKey) {
            if (!entry.is_object()) corrupt(path, "__metadata__ must be an object of strings");
            for (const auto& [key, value] : entry.items()) {
                if (!value.is_string()) {
                    corrupt(path, "__metadata__ value for \"" + key + "\" is not a string");
                }
                result.metadata_[key] = value.get<std::string>();
            }
            continue;
        }
        const std::string where = "tensor \"" + name + "\"";
        if (!entry.is_object()) corrupt(path, where + " is not a JSON object");
        for (const auto& [key, value] : entry.items()) {
            if (key != "dtype" && key != "shape" && key != "data_offsets") {
                corrupt(path, where + " has unknown field \"" + key + "\"");
            }
        }
        auto dtype_it = entry.find("dtype");
        auto shape_it = entry.find("shape");
        auto offsets_it = entry.find("data_offsets");
        if (dtype_it == entry.end() || shape_it == entry.end() || offsets_it == entry.end()) {
            corrupt(path, where + " needs dtype, shape and data_offsets");
        }
        if (!dtype_it->is_string()) corrupt(path, where + " has a non-string dtype");
        const auto dtype = parse_dtype(dtype_it->get<std::string>());
        if (!dtype) {
            corrupt(path, where + " has unsupported dtype \"" + dtype_it->get<std::string>() + "\"",
                    "supported: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL");
        }
        if (!shape_it->is_array()) corrupt(path, where + " has a shape that is not an array");
        if (shape_it->size() > limits.max_rank) {
            corrupt(path, where + " has rank " + std::to_string(shape_it->size()) +
                              ", more than the limit of " + std::to_string(limits.max_rank));
        }
        TensorView view;
        view.name = name;
        view.dtype = *dtype;
        view.file = result.file_;
        std::uint64_t n_bytes = dtype_size(*dtype);
        for (const auto& dim : *shape_it) {
            const auto d = checked_u64(dim, path, where + " shape entry");
            if (d > static_cast<std::uint64_t>(std::numeric_limits<int64_t>::max()) ||
                __builtin_mul_overflow(n_bytes, d, &n_bytes)) {
                corrupt(path, where + " has a shape whose size overflows");
            }
            view.shape.push_back(static_cast<int64_t>(d));
        }
        if (!offsets_it->is_array() || offsets_it->size() != 2) {
            corrupt(path, where + " data_offsets must be [begin, end]");
        }
        const auto begin = checked_u64((*offsets_it)[0], path, where + " data_offsets");
        const auto end = checked_u64((*offsets_it)[1], path, where + " data_offsets");
        if (begin > end) corrupt(path, where + " data_offsets end before they begin");
        if (end > data.size()) {
            corrupt(path,
                    where + " data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                        ") run past the " + std::to_string(data.size()) + "-byte data section",
                    "the file may be truncated");
        }
        if (end - begin != n_bytes) {
            corrupt(path, where + " shape and dtype need " + std::to_string(n_bytes) +
                              " bytes but data_offsets span " + std::to_string(end - begin));
        }
        view.bytes = data.subspan(begin, end - begin);
        result.tensors_.push_back(std::move(view));
    }

    // Byte ranges must not overlap: a lying header could otherwise alias one tensor into another.
    std::vector<const TensorView*> by_offset;
    for (const auto& t : result.tensors_) by_offset.push_back(&t);
    std::sort(by_offset.begin(), by_offset.end(), [](const TensorView* a, const TensorView* b) {
        return a->bytes.data() != b->bytes.data() ? a->bytes.data() < b->bytes.data()
                                                  : a->bytes.size() < b->bytes.size();
    });
    for (std::size_t i = 1; i < by_offset.size(); ++i) {
        const auto* prev = by_offset[i - 1];
        if (by_offset[i]->bytes.data() < prev->bytes.data() + prev->bytes.size()) {
            corrupt(path, "tensors \"" + prev->name + "\" and \"" + by_offset[i]->name +
                              "\" overlap in the data section");
        }
    }
    std::sort(result.tensors_.begin(), result.tensors_.end(),
              [](const TensorView& a, const TensorView& b) { return a.name < b.name; });
    return result;
}

const TensorView* SafetensorsFile::find(std::string_view name) const {
    auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                               [](const TensorView& t, std::string_view n) { return t.name < n; });
    return it != tensors_.end() && it->name == name ? &*it : nullptr;
}

const TensorView& SafetensorsFile::at(std::string_view name) const {
    if (const auto* view = find(name)) return *view;
    throw Error(ErrorKind::kNotFound, path().string(),
                "no tensor named \"" + std::string(name) + "\"");
}

// ---------------------------------------------------------------------------------------------
// Checkpoint

Checkpoint Checkpoint::open(const std::filesystem::path& path, const SafetensorsLimits& limits) {
    Checkpoint result;
    result.path_ = path;
    std::error_code ec;
    if (std::filesystem::is_regular_file(path, ec)) {
        result.shards_.push_back(SafetensorsFile::open(path, limits));
    } else if (std::filesystem::is_directory(path, ec)) {
        const auto index_path = path / "model.safetensors.index.json";
        const auto single_path = path / "model.safetensors";
        if (std::filesystem::exists(index_path, ec)) {
            const auto index = read_json_file(index_path);
            const auto map_it = index.find("weight_map");
            if (!index.is_object() || map_it == index.end() || !map_it->is_object()) {
                throw Error(ErrorKind::kCorruptInput, index_path.string(),
                            "missing \"weight_map\" object");
            }
            std::map<std::string, std::size_t> shard_of_file;
            std::vector<std::pair<std::string, std::string>> expected;  // tensor, shard file
            for (const auto& [name, file] : map_it->items()) {
                if (!file.is_string()) {
                    throw Error(ErrorKind::kCorruptInput, index_path.string(),
                                "weight_map entry for \"" + name + "\" is not a file name");
                }
                const auto shard = file.get<std::string>();
                // Shards are siblings of the index; never follow a path out of the folder.
                if (shard.empty() || shard.find('/') != std::string::npos ||
                    shard.find('\\') != std::string::npos || shard == "." || shard == "..") {
                    throw Error(
                        ErrorKind::kCorruptInput, index_path.string(),
                        "weight_map names shard \"" + shard + "\", which is not a plain file name");
                }
                if (!shard_of_file.contains(shard)) {
                    const auto shard_path = path / shard;
                    if (!std::filesystem::exists(shard_path, ec)) {
                        throw Error(ErrorKind::kNotFound, shard_path.string(),
                                    "shard listed in model.safetensors.index.json is missing");
                    }
                    shard_of_file[shard] = result.shards_.size();
                    result.shards_.push_back(SafetensorsFile::open(shard_path, limits));
                }
                expected.emplace_back(name, shard);
            }
            for (const auto& [name, shard] : expected) {
                if (result.shards_[shard_of_file[shard]].find(name) == nullptr) {
                    throw Error(ErrorKind::kCorruptInput, (path / shard).string(),
                                "index says it holds \"" + name + "\" but it does not");
                }
            }
        } else if (std::filesystem::exists(single_path, ec)) {
            result.shards_.push_back(SafetensorsFile::open(single_path, limits));
        } else {
            throw Error(ErrorKind::kNotFound, path.string(),
                        "no model.safetensors or model.safetensors.index.json in this folder");
        }
    } else {
        throw Error(ErrorKind::kNotFound, path.string(), "no such file or folder");
    }

    for (const auto& shard : result.shards_) {
        for (const auto& view : shard.tensors()) {
            if (!result.index_.emplace(view.name, &view).second) {
                throw Error(ErrorKind::kCorruptInput, shard.path().string(),
                            "tensor \"" + view.name + "\" also appears in another shard");
            }
        }
    }
    return result;
}

std::vector<std::string> Checkpoint::names() const {
    std::vector<std::string> out;
    out.reserve(index_.size());
    for (const auto& [name, view] : index_) out.push_back(name);
    return out;
}

const TensorView* Checkpoint::find(std::string_view name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : it->second;
}

const TensorView& Checkpoint::at(std::string_view name) const {
    if (const auto* view = find(name)) return *view;
    throw Error(ErrorKind::kNotFound, path_.string(),
                "checkpoint has no tensor named \"" + std::string(name) + "\"");
}

// ---------------------------------------------------------------------------------------------
// SafetensorsWriter

void SafetensorsWriter::add(std::string name, DType dtype, std::vector<int64_t> shape,
                            std::span<const std::byte> bytes) {
    if (name.empty() || name == kMetadataKey) {
        throw Error(ErrorKind::kInvalidArgument, name, "invalid safetensors tensor name");
    }
    for (const auto& e : entries_) {
        if (e.name == name) throw Error(ErrorKind::kInvalidArgument, name, "tensor added twice");
    }
    int64_t numel = 1;
    for (auto d : shape) {
        if (d < 0) throw Error(ErrorKind::kInvalidArgument, name, "negative dimension");
        numel *= d;
    }
    if (static_cast<std::size_t>(numel) * dtype_size(dtype) != bytes.size()) {
        throw Error(ErrorKind::kInvalidArgument, name,
                    "shape needs " +
                        std::to_string(numel * static_cast<int64_t>(dtype_size(dtype))) +
                        " bytes, got " + std::to_string(bytes.size()));
    }
    entries_.push_back({std::move(name), dtype, std::move(shape), {bytes.begin(), bytes.end()}});
}

void SafetensorsWriter::add_f32(std::string name, std::vector<int64_t> shape,
                                std::span<const float> data) {
    add(std::move(name), DType::kF32, std::move(shape), std::as_bytes(data));
}

void SafetensorsWriter::add_i64(std::string name, std::vector<int64_t> shape,
                                std::span<const int64_t> data) {
    add(std::move(name), DType::kI64, std::move(shape), std::as_bytes(data));
}

void SafetensorsWriter::set_metadata(std::string key, std::string value) {
    metadata_[std::move(key)] = std::move(value);
}

void SafetensorsWriter::write(const std::filesystem::path& path) const {
    // Largest element size first, then by name: with the header padded to 8 bytes every tensor
    // starts at a multiple of its element size, so readers can view it in place.
    std::vector<const Entry*> order;
    for (const auto& e : entries_) order.push_back(&e);
    std::sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) {
        const auto sa = dtype_size(a->dtype), sb = dtype_size(b->dtype);
        return sa != sb ? sa > sb : a->name < b->name;
    });

    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata_.empty()) header[std::string(kMetadataKey)] = metadata_;
    std::uint64_t offset = 0;
    for (const auto* e : order) {
        header[e->name] = {{"dtype", dtype_name(e->dtype)},
                           {"shape", e->shape},
                           {"data_offsets", {offset, offset + e->bytes.size()}}};
        offset += e->bytes.size();
    }
    std::string header_text = header.dump();
    header_text.append((8 - header_text.size() % 8) % 8, ' ');
    const std::uint64_t header_size = header_text.size();

    AtomicFile out(path);
    out.write(std::as_bytes(std::span<const std::uint64_t>(&header_size, 1)));
    out.write(header_text);
    for (const auto* e : order) out.write(e->bytes);
    out.commit();
}

}  // namespace sarsteer::io
