using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.DependencyInjection.Extensions;
using VoiceActors.Auth;
using VoiceActors.Gateway.Interviews;
using VoiceActors.LiveKit;
using VoiceActors.Sessions;

namespace VoiceActors.Gateway.LiveKit;

/// <summary>
/// LiveKit's side of the HTTP API: the webhook receiver, observer tokens, and (in a silo on embedded defaults) the stand-in's
/// RoomService Twirp routes, so the official SDKs can talk to it like to a LiveKit server.
/// </summary>
public static class LiveKitApi
{
    public static IServiceCollection AddLiveKitApi(this IServiceCollection services)
    {
        services.TryAddSingleton<ILiveKitEventHandler, SessionWebhookRouter>();
        return services.AddLiveKitClient();
    }

    public static WebApplication MapLiveKitApi(this WebApplication app)
    {
        app.MapPost(LiveKitStandIn.WebhookPath, ReceiveWebhook).AllowAnonymous().WithTags("LiveKit"); // LiveKit's signature is the authentication
        app.MapPost("/v1/interviews/{id}/observer-token", IssueObserverToken).RequireAuthorization().WithTags("Interviews")
            .WithMetadata(new Microsoft.AspNetCore.Mvc.RequestSizeLimitAttribute(4096));

        if (app.Services.GetService<LiveKitStandIn>() is { } standIn)
        {
            app.Map(LiveKitRoomClient.PathPrefix + "{method}", (HttpContext http) => ServeStandIn(http, standIn)).AllowAnonymous().ExcludeFromDescription();
            app.Lifetime.ApplicationStarted.Register(() => BindStandIn(app, standIn));
        }
        return app;
    }

    public static async Task<IResult> ReceiveWebhook(HttpContext http, LiveKitWebhookReceiver receiver)
    {
        if (http.Request.ContentLength > LiveKitWebhookReceiver.MaxBodyBytes)
            return TypedResults.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Webhook body too large");
        var body = await ReadBodyAsync(http.Request, LiveKitWebhookReceiver.MaxBodyBytes + 1, http.RequestAborted); // the raw bytes are what is signed
        var result = await receiver.ReceiveAsync(body, http.Request.ContentType, http.Request.Headers.Authorization.ToString(), http.RequestAborted);
        return result.Outcome switch
        {
            WebhookOutcome.Unauthorized => TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized,
                title: "Webhook not authenticated", detail: result.Detail),
            WebhookOutcome.Malformed => TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest,
                title: "Malformed webhook", detail: result.Detail),
            _ => TypedResults.Ok(new WebhookAck(result.Outcome.ToString().ToLowerInvariant(), result.EventId, result.Detail)),
        };
    }

    public static async Task<Results<Ok<ObserverTokenResponse>, ProblemHttpResult>> IssueObserverToken(
        string id, HttpContext http, IGrainFactory grains, ObserverTokenRequest? body = null)
    {
        if (!SessionIds.IsValid(id)) return InterviewsApi.MalformedId(id);
        var observerId = body?.ObserverId is { Length: > 0 } given ? given : SessionIds.New()[..12];
        var join = await grains.GetGrain<IInterviewSessionGrain>(id).IssueObserverToken(http.User.Tenant(), observerId);
        return TypedResults.Ok(new ObserverTokenResponse(join.Url, join.Room, join.Identity, join.Token, join.ExpiresAt));
    }

    private static async Task ServeStandIn(HttpContext http, LiveKitStandIn standIn)
    {
        var body = await ReadBodyAsync(http.Request, 1024 * 1024, http.RequestAborted);
        var answer = await standIn.HandleAsync(http.Request.Method, http.Request.Path.Value ?? "", http.Request.ContentType,
            http.Request.Headers.Authorization.ToString(), body);
        http.Response.StatusCode = answer.Status;
        http.Response.ContentType = answer.ContentType;
        await http.Response.Body.WriteAsync(answer.Body, http.RequestAborted);
    }

    private static void BindStandIn(WebApplication app, LiveKitStandIn standIn)
    {
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        var address = addresses.FirstOrDefault(a => a.StartsWith("http://", StringComparison.Ordinal)) ?? addresses.FirstOrDefault();
        if (address is null) return;
        var uri = new UriBuilder(address.Replace("://+", "://127.0.0.1").Replace("://*", "://127.0.0.1").Replace("://[::]", "://127.0.0.1").Replace("://0.0.0.0", "://127.0.0.1"));
        standIn.BindToHttp(uri.Uri);
    }

    private static async Task<byte[]> ReadBodyAsync(HttpRequest request, int limit, CancellationToken ct)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int n;
        while ((n = await request.Body.ReadAsync(chunk, ct)) > 0)
        {
            buffer.Write(chunk, 0, n);
            if (buffer.Length > limit) throw new BadHttpRequestException("Request body too large.", StatusCodes.Status413PayloadTooLarge);
        }
        return buffer.ToArray();
    }
}

public sealed record WebhookAck(string Outcome, string? EventId, string Detail);

public sealed record ObserverTokenRequest(string? ObserverId);

public sealed record ObserverTokenResponse(string Url, string Room, string Identity, string Token, DateTimeOffset ExpiresAt);
