using System.Net.WebSockets;
using Microsoft.Extensions.Options;
using VoiceActors.LiveKit;
using VoiceActors.Sessions;

namespace VoiceActors.Gateway.Media;

/// <summary>
/// The candidate's audio path into the cluster: <c>GET /v1/interviews/{id}/media</c> (a WebSocket of 20 ms PCM16 frames,
/// authenticated by the participant's LiveKit token for that interview's room) and the candidate page <c>GET /interview/{id}</c>.
/// </summary>
public static class MediaSocketApi
{
    /// <summary>The subprotocol the server speaks; browsers pass their token as a second one, <c>access_token.&lt;jwt&gt;</c>.</summary>
    public const string SubProtocol = "voiceactors.media.v1";
    public const string TokenSubProtocolPrefix = "access_token.";

    public static IServiceCollection AddMediaSockets(this IServiceCollection services)
    {
        services.AddValidatedOptions<MediaSocketOptions, MediaSocketOptionsValidator>(MediaSocketOptions.Section);
        services.AddSingleton<MediaSockets>();
        services.AddSingleton<MediaTokenVerifier>();
        return services;
    }

    public static IEndpointRouteBuilder MapMediaApi(this IEndpointRouteBuilder app)
    {
        app.ServiceProvider.GetRequiredService<IHostApplicationLifetime>().ApplicationStarted.Register(MediaSocketSession.ExportDropsAtZero);
        app.MapGet("/v1/interviews/{id}/media", AcceptMediaAsync).WithTags("Media");
        app.MapGet("/v1/interviews/{id}/connection", GetConnectionAsync).WithTags("Media");
        app.MapGet(CandidatePage.Route, CandidatePage.Serve).WithTags("Media");
        app.MapGet(CandidatePage.AssetsPrefix + "{file}", CandidatePage.ServeAsset).WithTags("Media");
        return app;
    }

    private static async Task<IResult> AcceptMediaAsync(string id, HttpContext http, MediaTokenVerifier verifier, MediaSockets sockets,
        IGrainFactory grains, IOptions<MediaSocketOptions> options, LiveKitDirectory livekit, ILoggerFactory loggers)
    {
        if (!SessionIds.IsValid(id)) return Problem(StatusCodes.Status400BadRequest, "Malformed interview id", "Interview ids are 32 lowercase hex characters.");
        if (!http.WebSockets.IsWebSocketRequest)
            return Problem(StatusCodes.Status400BadRequest, "WebSocket required", "This endpoint speaks WebSocket only: binary frames of 20 ms PCM16 mono at 24 kHz (960 bytes).");

        var token = TokenOf(http);
        LiveKitTokenClaims claims;
        try
        {
            claims = await verifier.VerifyAsync(token);
        }
        catch (LiveKitTokenException e)
        {
            return Problem(StatusCodes.Status401Unauthorized, "Invalid media token", e.Message); // the reason, never the token
        }
        var room = SessionIds.RoomName(id);
        if (!string.Equals(claims.Room, room, StringComparison.Ordinal) || claims.Video.RoomJoin != true)
            return Problem(StatusCodes.Status403Forbidden, "Token is for another room", $"The token does not grant joining room '{room}'.");
        if (claims.Role is not (ParticipantRole.Candidate or ParticipantRole.Agent))
            return Problem(StatusCodes.Status403Forbidden, "Token cannot publish audio", "Only the candidate (or a bridge acting for the room's agent) may stream audio.");

        var offered = http.WebSockets.WebSocketRequestedProtocols;
        using var socket = await http.WebSockets.AcceptWebSocketAsync(offered.Contains(SubProtocol) ? SubProtocol : null);
        // No LiveKit server: the in-process stand-in learns of the candidate from this socket and sends the webhooks LiveKit would.
        var standIn = livekit.RegionForApiKey(claims.Issuer)?.StandIn;
        var media = new MediaSocketSession(id, claims.Identity, claims.Role.Value, socket, grains, options.Value, standIn,
            http.RequestServices.GetService<TimeProvider>() ?? TimeProvider.System, loggers.CreateLogger<MediaSocketSession>());
        sockets.Add(media);
        try
        {
            await media.RunAsync(http.RequestAborted);
        }
        finally
        {
            sockets.Remove(media);
        }
        return Results.Empty;
    }

    /// <summary>
    /// <c>GET /v1/interviews/{id}/connection</c>, authenticated by the candidate's own LiveKit token as a bearer (the page has
    /// no API key): the LiveKit URL to join and, after a region failover, the reconnect directive with a fresh token.
    /// </summary>
    private static async Task<IResult> GetConnectionAsync(string id, HttpContext http, MediaTokenVerifier verifier, IGrainFactory grains)
    {
        if (!SessionIds.IsValid(id)) return Problem(StatusCodes.Status400BadRequest, "Malformed interview id", "Interview ids are 32 lowercase hex characters.");
        LiveKitTokenClaims claims;
        try
        {
            claims = await verifier.VerifyAsync(BearerToken.From(http.Request.Headers.Authorization.ToString()));
        }
        catch (LiveKitTokenException e)
        {
            return Problem(StatusCodes.Status401Unauthorized, "Invalid candidate token", e.Message); // the reason, never the token
        }
        var room = SessionIds.RoomName(id);
        if (!string.Equals(claims.Room, room, StringComparison.Ordinal) || claims.Role != ParticipantRole.Candidate)
            return Problem(StatusCodes.Status403Forbidden, "Not this interview's candidate", $"The token is not the candidate's token for room '{room}'.");
        var connection = await grains.GetGrain<ISessionCandidateGrain>(id).GetCandidateConnection(claims.Identity);
        http.Response.Headers.CacheControl = "no-store"; // it may carry a token
        var url = connection.LiveKitUrl ?? "";
        return TypedResults.Ok(new CandidateConnectionResponse(connection.Status, new(url, connection.Room), connection.Reconnect, TransportFor(url, http)));
    }

    /// <summary>
    /// "livekit", or "socket" when LiveKit cannot be joined from this page: no livekit-client in this build, or a LiveKit URL
    /// that points at this gateway itself (the in-process stand-in without an SFU), which answers no LiveKit signalling.
    /// </summary>
    private static string TransportFor(string url, HttpContext http) =>
        !CandidatePage.HasLiveKitClient || !Uri.TryCreate(url, UriKind.Absolute, out var uri) ||
        string.Equals(uri.Authority, http.Request.Host.Value, StringComparison.OrdinalIgnoreCase) ? "socket" : "livekit";

    /// <summary>The token from <c>Authorization: Bearer</c> (bridges) or the <c>access_token.</c> subprotocol (browsers cannot set headers).</summary>
    private static string? TokenOf(HttpContext http)
    {
        if (BearerToken.From(http.Request.Headers.Authorization.ToString()) is { } bearer) return bearer;
        foreach (var protocol in http.WebSockets.WebSocketRequestedProtocols)
            if (protocol.StartsWith(TokenSubProtocolPrefix, StringComparison.Ordinal)) return protocol[TokenSubProtocolPrefix.Length..];
        return null;
    }

    private static IResult Problem(int status, string title, string detail) => TypedResults.Problem(statusCode: status, title: title, detail: detail);
}

/// <summary>The body of <c>GET /v1/interviews/{id}/connection</c>.</summary>
public sealed record CandidateConnectionResponse(
    SessionStatus State,
    Interviews.LiveKitJoinInfo Livekit,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    VoiceActors.Regions.ReconnectDirective? Reconnect,
    string Transport);

/// <summary>Verifies a participant's LiveKit token with the secret of the key that issued it (each region may have its own).</summary>
public sealed class MediaTokenVerifier(LiveKitDirectory livekit)
{
    public Task<LiveKitTokenClaims> VerifyAsync(string? token)
    {
        // An unknown issuer, or no JWT at all: the default key's verifier refuses it with the reason.
        var issuer = token is { Length: < 16 * 1024 } ? LiveKitTokens.UnverifiedIssuer(token) : null;
        var tokens = (issuer is null ? null : livekit.TokensForApiKey(issuer)) ?? livekit.Default.Tokens;
        return tokens.VerifyAsync(token);
    }
}
