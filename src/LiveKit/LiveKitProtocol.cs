using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace VoiceActors.LiveKit;

// The subset of LiveKit's protobuf messages (livekit_models.proto, livekit_room.proto, livekit_webhook.proto) this service uses.
// Reading follows protojson with DiscardUnknown: snake_case or camelCase keys, int64 as strings or numbers, enums by name or number.

public enum ParticipantState
{
    Joining = 0,
    Joined = 1,
    Active = 2,
    Disconnected = 3,
}

public enum ParticipantKind
{
    Standard = 0,
    Ingress = 1,
    Egress = 2,
    Sip = 3,
    Agent = 4,
    Connector = 7,
    Bridge = 8,
}

public enum DataPacketKind
{
    Reliable = 0,
    Lossy = 1,
}

public sealed record LiveKitRoom
{
    public string Sid { get; init; } = "";
    public string Name { get; init; } = "";
    public uint EmptyTimeout { get; init; }
    public uint DepartureTimeout { get; init; }
    public uint MaxParticipants { get; init; }
    public long CreationTime { get; init; }
    public long CreationTimeMs { get; init; }
    public string Metadata { get; init; } = "";
    public uint NumParticipants { get; init; }
    public uint NumPublishers { get; init; }
    public bool ActiveRecording { get; init; }
}

public sealed record LiveKitParticipantPermission
{
    public bool CanSubscribe { get; init; }
    public bool CanPublish { get; init; }
    public bool CanPublishData { get; init; }
    public bool Hidden { get; init; }
    public bool Agent { get; init; }
}

public sealed record LiveKitParticipant
{
    public string Sid { get; init; } = "";
    public string Identity { get; init; } = "";
    public ParticipantState State { get; init; }
    public string Metadata { get; init; } = "";
    public long JoinedAt { get; init; }
    public long JoinedAtMs { get; init; }
    public string Name { get; init; } = "";
    public string Region { get; init; } = "";
    public bool IsPublisher { get; init; }
    public ParticipantKind Kind { get; init; }
    public Dictionary<string, string> Attributes { get; init; } = [];
    public LiveKitParticipantPermission? Permission { get; init; }
}

/// <summary>A LiveKit webhook body (<c>livekit.WebhookEvent</c>).</summary>
public sealed record LiveKitWebhookEvent
{
    public string Event { get; init; } = "";
    public LiveKitRoom? Room { get; init; }
    public LiveKitParticipant? Participant { get; init; }
    public LiveKitTrack? Track { get; init; }
    public string Id { get; init; } = "";
    public long CreatedAt { get; init; }
}

/// <summary>What <c>CreateRoom</c> asks for (only the fields this service sets).</summary>
public sealed record CreateRoomOptions(string Name, uint EmptyTimeout = 0, uint MaxParticipants = 0, string Metadata = "", uint DepartureTimeout = 0);

/// <summary>proto3 JSON mapping, as LiveKit's Go server (protojson) and the JS SDK (protobuf-es) apply it.</summary>
public static class ProtoJson
{
    private static readonly JsonSerializerOptions Read = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = JsonNumberHandling.AllowReadingFromString, // int64/uint64 are JSON strings
        Converters = { new ProtoEnumConverterFactory() },
    };

    /// <summary>Map fields: their keys are data, not field names, so they are not renamed.</summary>
    private static readonly HashSet<string> MapFields = new(StringComparer.Ordinal) { "attributes", "tags", "meta" };

    /// <summary>Parses a message, accepting proto names (snake_case) and JSON names (camelCase) alike; unknown fields are discarded.</summary>
    public static T Parse<T>(ReadOnlySpan<byte> json) where T : class
    {
        var node = JsonNode.Parse(json) ?? throw new JsonException("the body is JSON null, not a message");
        if (node is not JsonObject) throw new JsonException("the body is not a JSON object");
        return Normalize(node)!.Deserialize<T>(Read) ?? throw new JsonException("the body is not a message");
    }

    public static T Parse<T>(string json) where T : class => Parse<T>(Encoding.UTF8.GetBytes(json));

    /// <summary>lowerCamelCase of a proto field name: <c>creation_time_ms</c> → <c>creationTimeMs</c>.</summary>
    public static string JsonName(string protoName)
    {
        if (!protoName.Contains('_')) return protoName;
        var sb = new StringBuilder(protoName.Length);
        var upper = false;
        foreach (var c in protoName)
        {
            if (c == '_') { upper = true; continue; }
            sb.Append(upper ? char.ToUpperInvariant(c) : c);
            upper = false;
        }
        return sb.ToString();
    }

    /// <summary>Name of a proto enum value as protojson writes it: <c>ParticipantKind.Agent</c> → <c>AGENT</c>.</summary>
    public static string EnumName<TEnum>(TEnum value) where TEnum : struct, Enum =>
        JsonNamingPolicy.SnakeCaseUpper.ConvertName(value.ToString());

    private static JsonNode? Normalize(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject o:
                var copy = new JsonObject();
                foreach (var (key, value) in o)
                {
                    var name = JsonName(key);
                    if (copy.ContainsKey(name)) throw new JsonException($"field '{name}' appears twice");
                    copy[name] = MapFields.Contains(name) ? value?.DeepClone() : Normalize(value);
                }
                return copy;
            case JsonArray a:
                var array = new JsonArray();
                foreach (var item in a) array.Add(Normalize(item));
                return array;
            default:
                return node?.DeepClone();
        }
    }

    private sealed class ProtoEnumConverterFactory : JsonConverterFactory
    {
        public override bool CanConvert(Type typeToConvert) => typeToConvert.IsEnum;

        public override JsonConverter CreateConverter(Type typeToConvert, JsonSerializerOptions options) =>
            (JsonConverter)Activator.CreateInstance(typeof(ProtoEnumConverter<>).MakeGenericType(typeToConvert))!;
    }

    /// <summary>Enums arrive by name (<c>"AGENT"</c>) or number; an unknown value reads as the zero value, as protojson's open enums allow.</summary>
    private sealed class ProtoEnumConverter<T> : JsonConverter<T> where T : struct, Enum
    {
        public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            if (reader.TokenType == JsonTokenType.Number)
            {
                var n = reader.GetInt32();
                var value = (T)Enum.ToObject(typeof(T), n);
                return Enum.IsDefined(value) ? value : default;
            }
            if (reader.TokenType == JsonTokenType.Null) return default;
            var name = reader.GetString() ?? "";
            foreach (var v in Enum.GetValues<T>())
                if (string.Equals(EnumName(v), name, StringComparison.Ordinal)) return v;
            return default;
        }

        public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options) => writer.WriteStringValue(EnumName(value));
    }
}

/// <summary>
/// Writes protobuf messages as JSON in one of the two styles LiveKit uses: Twirp responses (proto names, every field emitted)
/// and webhook bodies / SDK requests (JSON names, default values left out). Field names are given as proto names.
/// </summary>
public sealed class ProtoJsonWriter : IDisposable
{
    private readonly ArrayBufferWriter<byte> _buffer = new();
    private readonly bool _protoNames;
    private readonly bool _emitDefaults;

    public ProtoJsonWriter(bool protoNames, bool emitDefaults)
    {
        _protoNames = protoNames;
        _emitDefaults = emitDefaults;
        Json = new Utf8JsonWriter(_buffer);
    }

    /// <summary>Twirp responses of LiveKit's server: <c>UseProtoNames</c> and <c>EmitUnpopulated</c>.</summary>
    public static ProtoJsonWriter TwirpResponse() => new(protoNames: true, emitDefaults: true);

    /// <summary>Webhook bodies (protojson defaults) and SDK requests (protobuf-es <c>toJson()</c>): JSON names, defaults omitted.</summary>
    public static ProtoJsonWriter Compact() => new(protoNames: false, emitDefaults: false);

    public Utf8JsonWriter Json { get; }

    public bool EmitDefaults => _emitDefaults;

    public byte[] ToArray()
    {
        Json.Flush();
        return _buffer.WrittenSpan.ToArray();
    }

    public string Name(string protoName) => _protoNames ? protoName : ProtoJson.JsonName(protoName);

    public void String(string field, string? value)
    {
        if (_emitDefaults || !string.IsNullOrEmpty(value)) Json.WriteString(Name(field), value ?? "");
    }

    public void UInt32(string field, uint value)
    {
        if (_emitDefaults || value != 0) Json.WriteNumber(Name(field), value);
    }

    public void Int32(string field, int value)
    {
        if (_emitDefaults || value != 0) Json.WriteNumber(Name(field), value);
    }

    /// <summary>int64 is a JSON string in proto3 JSON.</summary>
    public void Int64(string field, long value)
    {
        if (_emitDefaults || value != 0) Json.WriteString(Name(field), value.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    public void Bool(string field, bool value)
    {
        if (_emitDefaults || value) Json.WriteBoolean(Name(field), value);
    }

    public void Bytes(string field, ReadOnlySpan<byte> value)
    {
        if (_emitDefaults || !value.IsEmpty) Json.WriteBase64String(Name(field), value);
    }

    public void Enum<TEnum>(string field, TEnum value) where TEnum : struct, Enum
    {
        if (_emitDefaults || Convert.ToInt32(value, System.Globalization.CultureInfo.InvariantCulture) != 0)
            Json.WriteString(Name(field), ProtoJson.EnumName(value));
    }

    public void Strings(string field, IReadOnlyCollection<string>? values)
    {
        if (!_emitDefaults && (values is null || values.Count == 0)) return;
        Json.WriteStartArray(Name(field));
        if (values is not null) foreach (var v in values) Json.WriteStringValue(v);
        Json.WriteEndArray();
    }

    public void EmptyArray(string field)
    {
        if (!_emitDefaults) return;
        Json.WriteStartArray(Name(field));
        Json.WriteEndArray();
    }

    public void Map(string field, IReadOnlyDictionary<string, string>? values)
    {
        if (!_emitDefaults && (values is null || values.Count == 0)) return;
        Json.WriteStartObject(Name(field));
        if (values is not null) foreach (var (k, v) in values) Json.WriteString(k, v);
        Json.WriteEndObject();
    }

    /// <summary>An unset message field: <c>null</c> when defaults are emitted, absent otherwise.</summary>
    public void NullMessage(string field)
    {
        if (_emitDefaults) Json.WriteNull(Name(field));
    }

    public void WriteRoom(LiveKitRoom room)
    {
        Json.WriteStartObject();
        WriteRoomFields(room);
        Json.WriteEndObject();
    }

    public void WriteRoom(string field, LiveKitRoom room)
    {
        Json.WriteStartObject(Name(field));
        WriteRoomFields(room);
        Json.WriteEndObject();
    }

    private void WriteRoomFields(LiveKitRoom room)
    {
        String("sid", room.Sid);
        String("name", room.Name);
        UInt32("empty_timeout", room.EmptyTimeout);
        UInt32("departure_timeout", room.DepartureTimeout);
        UInt32("max_participants", room.MaxParticipants);
        Int64("creation_time", room.CreationTime);
        Int64("creation_time_ms", room.CreationTimeMs);
        String("turn_password", "");
        EmptyArray("enabled_codecs");
        String("metadata", room.Metadata);
        UInt32("num_participants", room.NumParticipants);
        UInt32("num_publishers", room.NumPublishers);
        Bool("active_recording", room.ActiveRecording);
        NullMessage("version");
    }

    public void WriteParticipant(LiveKitParticipant p)
    {
        Json.WriteStartObject();
        WriteParticipantFields(p);
        Json.WriteEndObject();
    }

    public void WriteParticipant(string field, LiveKitParticipant p)
    {
        Json.WriteStartObject(Name(field));
        WriteParticipantFields(p);
        Json.WriteEndObject();
    }

    private void WriteParticipantFields(LiveKitParticipant p)
    {
        String("sid", p.Sid);
        String("identity", p.Identity);
        Enum("state", p.State);
        EmptyArray("tracks");
        String("metadata", p.Metadata);
        Int64("joined_at", p.JoinedAt);
        Int64("joined_at_ms", p.JoinedAtMs);
        String("name", p.Name);
        UInt32("version", 0);
        if (p.Permission is { } perm)
        {
            Json.WriteStartObject(Name("permission"));
            Bool("can_subscribe", perm.CanSubscribe);
            Bool("can_publish", perm.CanPublish);
            Bool("can_publish_data", perm.CanPublishData);
            EmptyArray("can_publish_sources");
            Bool("hidden", perm.Hidden);
            Bool("recorder", false);
            Bool("can_update_metadata", false);
            Bool("agent", perm.Agent);
            Bool("can_subscribe_metrics", false);
            Bool("can_manage_agent_session", false);
            Json.WriteEndObject();
        }
        else
        {
            NullMessage("permission");
        }
        String("region", p.Region);
        Bool("is_publisher", p.IsPublisher);
        Enum("kind", p.Kind);
        Map("attributes", p.Attributes);
        Enum("disconnect_reason", p.State == ParticipantState.Disconnected ? DisconnectReason.ClientInitiated : DisconnectReason.UnknownReason);
        EmptyArray("kind_details");
        EmptyArray("data_tracks");
        Int32("client_protocol", 0);
        EmptyArray("capabilities");
    }

    public void Dispose() => Json.Dispose();

    private enum DisconnectReason
    {
        UnknownReason = 0,
        ClientInitiated = 1,
    }
}
