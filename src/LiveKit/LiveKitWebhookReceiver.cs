using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace VoiceActors.LiveKit;

/// <summary>
/// Receives LiveKit webhooks the way LiveKit's own verifier does: the <c>Authorization</c> header is a JWT signed with the
/// secret of the key named in its <c>iss</c>, and its <c>sha256</c> claim must equal the base64 SHA-256 of the raw body,
/// checked before the body is parsed. Anything else is refused with no side effect. A verified event goes to the host's
/// <see cref="ILiveKitEventHandler"/> (the gateway routes interview rooms' events to their sessions).
/// </summary>
public sealed partial class LiveKitWebhookReceiver(LiveKitDirectory directory, ILiveKitEventHandler handler, ILogger<LiveKitWebhookReceiver> logger)
{
    public const string ContentType = "application/webhook+json";

    /// <summary>LiveKit's bodies are a few kilobytes; anything far larger is not from LiveKit.</summary>
    public const int MaxBodyBytes = 256 * 1024;

    public async Task<WebhookResult> ReceiveAsync(ReadOnlyMemory<byte> body, string? contentType, string? authorization, CancellationToken ct = default)
    {
        if (!MediaTypeHeaderValue.TryParse(contentType, out var media) || !string.Equals(media.MediaType, ContentType, StringComparison.OrdinalIgnoreCase))
            return Refuse($"the content type must be {ContentType}");
        if (body.Length > MaxBodyBytes) return Refuse("the body is too large");
        var token = BearerToken.From(authorization) ?? authorization?.Trim() ?? ""; // LiveKit sends the bare JWT
        if (token.Length == 0) return Refuse("the Authorization header is empty");

        var tokens = directory.TokensForApiKey(LiveKitTokens.UnverifiedIssuer(token) ?? "");
        if (tokens is null) return Refuse("the token names an unknown API key");
        LiveKitTokenClaims claims;
        try
        {
            claims = await tokens.VerifyAsync(token);
        }
        catch (LiveKitTokenException e)
        {
            return Refuse(e.Message);
        }
        var expected = Convert.ToBase64String(SHA256.HashData(body.Span));
        if (claims.Sha256 is not { } claimed ||
            !CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(claimed)))
            return Refuse("the sha256 checksum of the body does not match the token");

        LiveKitWebhookEvent ev;
        try
        {
            ev = ProtoJson.Parse<LiveKitWebhookEvent>(body.Span);
        }
        catch (JsonException)
        {
            LogMalformed();
            return new WebhookResult(WebhookOutcome.Malformed, "the body is not a LiveKit WebhookEvent", null, null);
        }
        var result = await handler.HandleAsync(ev, ct);
        LogHandled(ev.Event, ev.Id, result.Outcome);
        return result;
    }

    /// <summary>The participant's role: the signed role attribute of its token, LiveKit's AGENT kind, then our identity convention.</summary>
    public static ParticipantRole? RoleOf(LiveKitParticipant p)
    {
        if (p.Attributes is { } attributes && attributes.TryGetValue(LiveKitTokens.RoleAttribute, out var named))
        {
            foreach (var role in Enum.GetValues<ParticipantRole>())
                if (LiveKitTokens.RoleName(role) == named) return role;
        }
        if (p.Kind == ParticipantKind.Agent) return ParticipantRole.Agent;
        return LiveKitIdentities.RoleOf(p.Identity);
    }

    private WebhookResult Refuse(string reason)
    {
        LogRefused(reason);
        return new WebhookResult(WebhookOutcome.Unauthorized, reason, null, null);
    }


    [LoggerMessage(Level = LogLevel.Warning, Message = "LiveKit webhook refused: {Reason}")]
    private partial void LogRefused(string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "LiveKit webhook with a valid signature has a malformed body")]
    private partial void LogMalformed();

    [LoggerMessage(Level = LogLevel.Information, Message = "LiveKit webhook {Event} ({EventId}): {Outcome}")]
    private partial void LogHandled(string @event, string eventId, WebhookOutcome outcome);
}

public enum WebhookOutcome
{
    Applied,
    Duplicate,
    Ignored,
    Unauthorized,
    Malformed,
}

/// <summary>What became of one webhook; <see cref="HttpStatus"/> is the answer LiveKit gets (it retries only 5xx and transport errors).</summary>
public sealed record WebhookResult(WebhookOutcome Outcome, string Detail, string? EventId, string? Event)
{
    public int HttpStatus => Outcome switch
    {
        WebhookOutcome.Unauthorized => 401,
        WebhookOutcome.Malformed => 400,
        _ => 200,
    };
}

/// <summary>What a host does with a verified LiveKit webhook event; the receiver has already checked its signature.</summary>
public interface ILiveKitEventHandler
{
    Task<WebhookResult> HandleAsync(LiveKitWebhookEvent ev, CancellationToken ct);
}
