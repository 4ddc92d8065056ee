using Microsoft.AspNetCore.Http.HttpResults;
using VoiceActors.Auth;
using VoiceActors.Gateway.Interviews;
using VoiceActors.Sessions;

namespace VoiceActors.Gateway.Timeline;

/// <summary>
/// <c>GET /v1/interviews/{id}/timeline</c>: what happened to one session, in order, where and when — what an operator
/// reads when a candidate complains. Served from the session grain (in memory while it is active, one storage read
/// after), tenant-scoped: another tenant's session is a 404 like an unknown one.
/// </summary>
public static class TimelineApi
{
    public static RouteHandlerBuilder MapTimelineApi(this IEndpointRouteBuilder app) =>
        app.MapGet("/v1/interviews/{id}/timeline", GetTimeline)
            .RequireAuthorization()
            .WithTags("Interviews");

    public static async Task<Results<Ok<TimelineResponse>, ProblemHttpResult>> GetTimeline(
        string id, HttpContext http, IGrainFactory grains)
    {
        if (!SessionIds.IsValid(id)) return InterviewsApi.MalformedId(id);
        var events = await grains.GetGrain<IInterviewSessionGrain>(id).GetTimeline(http.User.Tenant());
        var entries = new TimelineEntry[events.Count];
        for (var i = 0; i < entries.Length; i++)
        {
            var e = events[i];
            entries[i] = new TimelineEntry(i + 1, e.At, e.Kind, e.Detail, e.Silo);
        }
        return TypedResults.Ok(new TimelineResponse(id, entries));
    }
}

/// <summary>The timeline of one session, oldest first.</summary>
public sealed record TimelineResponse(string SessionId, IReadOnlyList<TimelineEntry> Events);

/// <summary>One event: its position (1-based), when, what kind (see <c>TimelineKinds</c>), detail and the silo it happened on.</summary>
public sealed record TimelineEntry(int Seq, DateTimeOffset At, string Kind, string? Detail, string? Silo);
