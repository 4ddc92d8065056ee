using VoiceActors.Auth;

namespace VoiceActors.Telemetry;

/// <summary>
/// Requests about one interview (<c>/v1/interviews/{id}/...</c>) log inside a scope with <c>session_id</c> and
/// <c>tenant_id</c>, so the gateway's lines for a session can be found next to the grain's.
/// </summary>
public static class SessionLogScopeMiddleware
{
    private const string InterviewsPath = "/v1/interviews";

    public static IApplicationBuilder UseSessionLogScope(this IApplicationBuilder app)
    {
        var logger = app.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(SessionLogScopeMiddleware));
        return app.Use(async (http, next) =>
        {
            if (!http.Request.Path.StartsWithSegments(InterviewsPath)
                || http.GetRouteValue("id") is not string sessionId
                || http.User.FindFirst(ApiKeyAuthenticationHandler.TenantClaim)?.Value is not { } tenantId)
            {
                await next(http);
                return;
            }
            using (logger.BeginScope(new Dictionary<string, object> { ["session_id"] = sessionId, ["tenant_id"] = tenantId }))
                await next(http);
        });
    }
}
