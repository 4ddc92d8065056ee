using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace VoiceActors.LiveKit;

/// <summary>
/// Mints and verifies LiveKit access tokens: HS256 JWTs signed with the API secret, <c>iss</c> = API key, <c>sub</c> = identity,
/// <c>nbf</c>/<c>exp</c>, and LiveKit's own claims (<c>name</c>, <c>metadata</c>, <c>attributes</c>, top-level <c>kind</c>,
/// the <c>video</c> grant, and <c>sha256</c> for webhooks), exactly as the official server SDKs write them.
/// </summary>
public sealed class LiveKitTokens
{
    /// <summary>Clock skew tolerated on <c>nbf</c>/<c>exp</c>; the Node SDK's verifier uses the same 10 s.</summary>
    public static readonly TimeSpan Leeway = TimeSpan.FromSeconds(10);

    /// <summary>Longest token we mint; a session never lasts longer, so nothing needs more.</summary>
    public static readonly TimeSpan MaxTtl = TimeSpan.FromHours(6);

    /// <summary>Token attribute naming the participant's role in the interview (attributes are signed, so it cannot be forged).</summary>
    public const string RoleAttribute = "voiceactors.role";

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private readonly SymmetricSecurityKey _key;
    private readonly SigningCredentials _signing;
    private readonly TimeProvider _clock;
    private readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false };

    /// <summary>
    /// The <c>iss</c> (API key) of a JWT read before it is verified, only to choose the secret that will verify it; null when
    /// <paramref name="token"/> is not a JWT. Nothing else may be trusted from an unverified token.
    /// </summary>
    public static string? UnverifiedIssuer(string? token)
    {
        if (string.IsNullOrEmpty(token)) return null;
        try
        {
            return new JsonWebToken(token).Issuer;
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    /// <summary>Now, on the clock tokens are issued by (their <c>nbf</c>/<c>exp</c> are counted from it).</summary>
    public DateTimeOffset Now => _clock.GetUtcNow();

    public LiveKitTokens(string apiKey, string apiSecret, TimeProvider? clock = null)
    {
        if (string.IsNullOrWhiteSpace(apiKey)) throw new ArgumentException("A LiveKit API key is required.", nameof(apiKey));
        var secret = Encoding.UTF8.GetBytes(apiSecret ?? "");
        if (secret.Length < 32)
            throw new ArgumentException("A LiveKit API secret must be at least 32 bytes: HS256 keys under 256 bits are refused.", nameof(apiSecret));
        ApiKey = apiKey;
        ApiSecret = apiSecret!;
        _key = new SymmetricSecurityKey(secret);
        _signing = new SigningCredentials(_key, SecurityAlgorithms.HmacSha256);
        _clock = clock ?? TimeProvider.System;
    }

    public LiveKitTokens(LiveKitOptions options, TimeProvider clock) : this(options.ApiKey, options.ApiSecret, clock)
    {
    }

    public string ApiKey { get; }

    /// <summary>For the stand-in SFU's stdin only (never logged, never on a command line).</summary>
    internal string ApiSecret { get; }

    /// <summary>
    /// A join token for one participant of one room. Candidate: join, publish the microphone, subscribe, send data.
    /// Agent: the same, marked <c>kind: agent</c> and visible (its voice is one microphone track). Observer: join hidden and subscribe only; cannot publish anything.
    /// </summary>
    public string ForParticipant(string room, string identity, ParticipantRole role, TimeSpan ttl, string? name = null, string? metadata = null)
    {
        if (string.IsNullOrWhiteSpace(room)) throw new ArgumentException("A room is required.", nameof(room));
        if (string.IsNullOrWhiteSpace(identity)) throw new ArgumentException("An identity is required.", nameof(identity));
        var video = role switch
        {
            ParticipantRole.Candidate => new VideoGrant
            {
                RoomJoin = true, Room = room, CanPublish = true, CanSubscribe = true, CanPublishData = true,
                CanPublishSources = ["microphone"], CanUpdateOwnMetadata = false,
            },
            ParticipantRole.Agent => new VideoGrant
            {
                // Visible: LiveKit delivers no hidden participant's tracks to others, and the candidate must hear the agent.
                RoomJoin = true, Room = room, CanPublish = true, CanSubscribe = true, CanPublishData = true,
                CanPublishSources = ["microphone"], Agent = true,
            },
            ParticipantRole.Observer => new VideoGrant
            {
                RoomJoin = true, Room = room, CanPublish = false, CanSubscribe = true, CanPublishData = false,
                CanPublishSources = [], Hidden = true,
            },
            _ => throw new ArgumentOutOfRangeException(nameof(role), role, "Unknown participant role."),
        };
        return Sign(new TokenPayload
        {
            Sub = identity,
            Name = name,
            Metadata = metadata,
            Kind = role == ParticipantRole.Agent ? "agent" : "standard",
            Attributes = new Dictionary<string, string> { [RoleAttribute] = RoleName(role) },
            Video = video,
        }, ttl);
    }

    /// <summary>A short-lived server token for one RoomService call, carrying only the grant that call needs.</summary>
    public string ForServer(VideoGrant grant, TimeSpan ttl) => Sign(new TokenPayload { Video = grant }, ttl);

    /// <summary>The <c>Authorization</c> value of a webhook: a token whose <c>sha256</c> is the base64 SHA-256 of the exact body.</summary>
    public string ForWebhook(ReadOnlySpan<byte> body, TimeSpan? ttl = null) =>
        Sign(new TokenPayload { Sha256 = Convert.ToBase64String(SHA256.HashData(body)) }, ttl ?? TimeSpan.FromMinutes(5));

    /// <summary>Verifies signature (HS256 only), issuer (must be this API key) and lifetime (<c>exp</c> required).</summary>
    /// <exception cref="LiveKitTokenException">The token is malformed, forged, for another key, expired or not yet valid.</exception>
    public LiveKitTokenClaims Verify(string? token) => VerifyAsync(token).GetAwaiter().GetResult();

    /// <inheritdoc cref="Verify"/>
    public async Task<LiveKitTokenClaims> VerifyAsync(string? token)
    {
        if (string.IsNullOrWhiteSpace(token)) throw new LiveKitTokenException(LiveKitTokenError.Missing, "no token was given");
        if (token.Length > 16 * 1024) throw new LiveKitTokenException(LiveKitTokenError.Malformed, "the token is too large");
        var result = await _handler.ValidateTokenAsync(token, new TokenValidationParameters
        {
            IssuerSigningKey = _key,
            ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
            ValidIssuer = ApiKey,
            ValidateAudience = false,
            RequireSignedTokens = true,
            ValidateLifetime = false, // checked below against the injected clock, so tests can move time
        });
        if (!result.IsValid) throw Explain(result.Exception);
        var jwt = (JsonWebToken)result.SecurityToken;
        CheckLifetime(jwt);
        TokenPayload payload;
        try
        {
            payload = JsonSerializer.Deserialize<TokenPayload>(Base64UrlEncoder.DecodeBytes(jwt.EncodedPayload), Json)
                ?? throw new LiveKitTokenException(LiveKitTokenError.Malformed, "the payload is empty");
        }
        catch (JsonException)
        {
            throw new LiveKitTokenException(LiveKitTokenError.Malformed, "the payload does not hold LiveKit claims");
        }
        var video = payload.Video ?? new VideoGrant();
        var attributes = payload.Attributes ?? new Dictionary<string, string>();
        return new LiveKitTokenClaims(
            Identity: payload.Sub is { Length: > 0 } sub ? sub : payload.Jti ?? "", // the Go verifier falls back to jti the same way
            Issuer: payload.Iss ?? "",
            Name: payload.Name,
            Metadata: payload.Metadata,
            Kind: payload.Kind ?? "standard",
            Video: video,
            Attributes: attributes,
            Sha256: payload.Sha256,
            NotBefore: payload.Nbf is { } nbf ? DateTimeOffset.FromUnixTimeSeconds(nbf) : null,
            ExpiresAt: DateTimeOffset.FromUnixTimeSeconds(payload.Exp ?? 0),
            Role: RoleOf(payload.Kind, video, attributes));
    }

    public static string RoleName(ParticipantRole role) => role switch
    {
        ParticipantRole.Candidate => "candidate",
        ParticipantRole.Agent => "agent",
        ParticipantRole.Observer => "observer",
        _ => throw new ArgumentOutOfRangeException(nameof(role), role, "Unknown participant role."),
    };

    private static ParticipantRole? RoleOf(string? kind, VideoGrant video, Dictionary<string, string> attributes)
    {
        if (attributes.TryGetValue(RoleAttribute, out var named))
        {
            return named switch
            {
                "candidate" => ParticipantRole.Candidate,
                "agent" => ParticipantRole.Agent,
                "observer" => ParticipantRole.Observer,
                _ => null,
            };
        }
        if (string.Equals(kind, "agent", StringComparison.Ordinal) || video.Agent == true) return ParticipantRole.Agent;
        if (video.RoomJoin != true) return null;
        return video.CanPublish == false ? ParticipantRole.Observer : ParticipantRole.Candidate;
    }

    private void CheckLifetime(JsonWebToken jwt)
    {
        if (!jwt.TryGetPayloadValue<long>("exp", out var exp))
            throw new LiveKitTokenException(LiveKitTokenError.Malformed, "the token has no expiry (exp is required)");
        var now = _clock.GetUtcNow();
        if (now - Leeway >= DateTimeOffset.FromUnixTimeSeconds(exp)) throw new LiveKitTokenException(LiveKitTokenError.Expired, "the token has expired");
        if (jwt.TryGetPayloadValue<long>("nbf", out var nbf) && now + Leeway < DateTimeOffset.FromUnixTimeSeconds(nbf))
            throw new LiveKitTokenException(LiveKitTokenError.NotYetValid, "the token is not valid yet");
    }

    private string Sign(TokenPayload payload, TimeSpan ttl)
    {
        if (ttl <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(ttl), ttl, "A token needs a positive lifetime.");
        if (ttl > MaxTtl) ttl = MaxTtl;
        var now = _clock.GetUtcNow().ToUnixTimeSeconds();
        payload.Iss = ApiKey;
        payload.Nbf = now;
        payload.Exp = now + (long)Math.Ceiling(ttl.TotalSeconds);
        return _handler.CreateToken(JsonSerializer.Serialize(payload, Json), _signing);
    }

    private static LiveKitTokenException Explain(Exception? e) => e switch
    {
        SecurityTokenInvalidIssuerException => new(LiveKitTokenError.WrongKey, "the token was issued for another API key"),
        SecurityTokenInvalidAlgorithmException => new(LiveKitTokenError.BadSignature, "the token is not signed with HS256"),
        SecurityTokenSignatureKeyNotFoundException or SecurityTokenInvalidSignatureException =>
            new(LiveKitTokenError.BadSignature, "the token's signature does not match the API secret"),
        SecurityTokenMalformedException or ArgumentException => new(LiveKitTokenError.Malformed, "the token is not a well-formed JWT"),
        _ => new(LiveKitTokenError.Malformed, $"the token was refused ({e?.GetType().Name ?? "unknown reason"})"),
    };

    /// <summary>The JWT payload as LiveKit writes it; unknown claims (e.g. <c>sip</c>, <c>roomConfig</c>) are ignored on read.</summary>
    private sealed class TokenPayload
    {
        public string? Iss { get; set; }
        public string? Sub { get; set; }
        public string? Jti { get; set; }
        public long? Nbf { get; set; }
        public long? Exp { get; set; }
        public string? Name { get; set; }
        public string? Metadata { get; set; }
        public string? Kind { get; set; }
        public Dictionary<string, string>? Attributes { get; set; }
        public VideoGrant? Video { get; set; }
        public string? Sha256 { get; set; }
    }
}

/// <summary>LiveKit's <c>video</c> grant (JSON camelCase, as <c>auth/grants.go</c> and the Node SDK's <c>grants.ts</c> name it).</summary>
public sealed record VideoGrant
{
    public bool? RoomCreate { get; init; }
    public bool? RoomList { get; init; }
    public bool? RoomRecord { get; init; }
    public bool? RoomAdmin { get; init; }
    public bool? RoomJoin { get; init; }
    public string? Room { get; init; }
    public bool? CanPublish { get; init; }
    public bool? CanSubscribe { get; init; }
    public bool? CanPublishData { get; init; }
    public string[]? CanPublishSources { get; init; }
    public bool? CanUpdateOwnMetadata { get; init; }
    public bool? IngressAdmin { get; init; }
    public bool? Hidden { get; init; }
    public bool? Recorder { get; init; }
    public bool? Agent { get; init; }
}

/// <summary>What a verified token says. <see cref="Role"/> is null for tokens that are not an interview participant's (server, webhook).</summary>
public sealed record LiveKitTokenClaims(
    string Identity,
    string Issuer,
    string? Name,
    string? Metadata,
    string Kind,
    VideoGrant Video,
    IReadOnlyDictionary<string, string> Attributes,
    string? Sha256,
    DateTimeOffset? NotBefore,
    DateTimeOffset ExpiresAt,
    ParticipantRole? Role)
{
    public string? Room => Video.Room;
}

public enum LiveKitTokenError
{
    Missing,
    Malformed,
    BadSignature,
    WrongKey,
    Expired,
    NotYetValid,
}

/// <summary>A token was refused. The message says why and never contains the token.</summary>
public sealed class LiveKitTokenException(LiveKitTokenError error, string reason) : Exception($"Invalid LiveKit token: {reason}.")
{
    public LiveKitTokenError Error { get; } = error;
}

/// <summary>Participant identities in interview rooms; the webhook maps an identity back to its role with these.</summary>
public static class LiveKitIdentities
{
    public static string Candidate(string candidateId) => $"candidate-{candidateId}";

    public static string Agent(string sessionId) => $"agent-{sessionId}";

    public static string Observer(string observerId) => $"observer-{observerId}";

    /// <summary>The role an identity names by convention, or null for an identity we did not hand out.</summary>
    public static ParticipantRole? RoleOf(string identity) =>
        identity.StartsWith("candidate-", StringComparison.Ordinal) ? ParticipantRole.Candidate
        : identity.StartsWith("agent-", StringComparison.Ordinal) ? ParticipantRole.Agent
        : identity.StartsWith("observer-", StringComparison.Ordinal) ? ParticipantRole.Observer
        : null;
}
