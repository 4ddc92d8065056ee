using VoiceActors.Tests.Sessions;
using VoiceActors.LiveKit;
using System.Net.Http.Json;

namespace VoiceActors.Tests.Operations;

/// <summary><c>GET /v1/interviews/{id}/timeline</c>: what happened to a session, in order, during the interview and after it.</summary>
public sealed class SessionTimelineTests(OperationsSystem ops) : IClassFixture<OperationsSystem>
{
    private sealed record Entry(int Seq, DateTimeOffset At, string Kind, string? Detail, string? Silo);

    private async Task<Entry[]> TimelineAsync(HttpClient client, string id)
    {
        var response = await client.GetAsync($"/v1/interviews/{id}/timeline");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(id, body.GetProperty("sessionId").GetString());
        return body.GetProperty("events").Deserialize<Entry[]>(new JsonSerializerOptions(JsonSerializerDefaults.Web))!;
    }

    /// <summary>The timeline once the post-session pipeline has added its one milestone, so a comparison does not race with it.</summary>
    private Task<Entry[]> SettledTimelineAsync(HttpClient client, string id) =>
        Eventually.ValueAsync(() => TimelineAsync(client, id), timeline => timeline.Any(e => e.Kind == TimelineKinds.Evaluated), TimeSpan.FromSeconds(15),
            timeline => "the evaluation never reached the timeline: " + string.Join(", ", (timeline ?? []).Select(e => e.Kind)));

    [Fact]
    public async Task Timeline_tells_a_session_from_creation_through_join_and_leave_to_completion_in_order()
    {
        var id = await ops.CreateSessionAsync(ops.TenantA, candidateId: "cand-timeline");
        var session = ops.Grains.GetGrain<IInterviewSessionGrain>(id);

        var waiting = await TimelineAsync(ops.TenantA, id);
        Assert.Equal(["created", "state.changed", "room.provisioned", "state.changed"], waiting.Select(e => e.Kind));
        Assert.StartsWith($"interview-{id} ", waiting[2].Detail);

        await session.JoinAsync("cand-timeline", ParticipantRole.Candidate);
        await session.JoinAsync("agent-7", ParticipantRole.Agent);
        await session.LeaveAsync("cand-timeline");
        await session.JoinAsync("cand-timeline", ParticipantRole.Candidate);

        var during = await TimelineAsync(ops.TenantA, id);
        Assert.Equal("Active", (await ops.TenantA.GetFromJsonAsync<JsonElement>($"/v1/interviews/{id}")).GetProperty("state").GetString());
        Assert.Equal(waiting, during.Take(waiting.Length)); // an append-only record: what was served stays as it was

        Assert.Equal(HttpStatusCode.Accepted, (await ops.TenantA.PostAsync($"/v1/interviews/{id}/complete", null)).StatusCode);
        var after = await SettledTimelineAsync(ops.TenantA, id);

        (string Kind, string? Detail)[] expected =
        [
            (TimelineKinds.Created, "region local, provider simulated"),
            (TimelineKinds.StateChanged, "Created -> Provisioning"),
            (TimelineKinds.RoomProvisioned, waiting[2].Detail),
            (TimelineKinds.StateChanged, "Provisioning -> WaitingForParticipants"),
            (TimelineKinds.ParticipantJoined, "Candidate cand-timeline"),
            (TimelineKinds.ParticipantJoined, "Agent agent-7"),
            (TimelineKinds.StateChanged, "WaitingForParticipants -> Active"),
            (TimelineKinds.ParticipantLeft, "cand-timeline"),
            (TimelineKinds.StateChanged, "Active -> Reconnecting"),
            (TimelineKinds.ParticipantJoined, "Candidate cand-timeline"),
            (TimelineKinds.StateChanged, "Reconnecting -> Active"),
            (TimelineKinds.StateChanged, "Active -> Completed"),
            (TimelineKinds.Ended, "Completed: completed by caller"),
        ];
        Assert.Equal(expected, after.Take(expected.Length).Select(e => (e.Kind, e.Detail)));
        Assert.Equal([TimelineKinds.Evaluated], after.Skip(expected.Length).Select(e => e.Kind)); // then the pipeline's milestone, once
        Assert.Equal(Enumerable.Range(1, after.Length), after.Select(e => e.Seq));
        for (var i = 1; i < after.Length; i++) Assert.True(after[i].At >= after[i - 1].At, $"event {i + 1} is earlier than event {i}");
        var silo = (await session.Get("tenant-a")).Silo;
        Assert.All(after, e => Assert.Equal(silo, e.Silo)); // every event says where it happened
    }

    [Fact]
    public async Task Timeline_is_still_served_after_the_session_grain_was_deactivated()
    {
        var id = await ops.CreateSessionAsync(ops.TenantA);
        Assert.Equal(HttpStatusCode.Accepted, (await ops.TenantA.PostAsync($"/v1/interviews/{id}/complete", null)).StatusCode);
        var before = await SettledTimelineAsync(ops.TenantA, id);

        // Evict every idle activation: the next read comes from storage, as it does hours after the interview.
        await ops.Grains.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);

        var after = await TimelineAsync(ops.TenantA, id);
        Assert.Equal(before, after);
        Assert.Equal(TimelineKinds.Evaluated, after[^1].Kind);
    }

    [Fact]
    public async Task Another_tenants_session_and_an_unknown_one_are_both_404_and_a_malformed_id_is_400()
    {
        var id = await ops.CreateSessionAsync(ops.TenantA);

        var foreign = await ops.TenantB.GetAsync($"/v1/interviews/{id}/timeline");
        Assert.Equal(HttpStatusCode.NotFound, foreign.StatusCode);
        Assert.Equal("application/problem+json", foreign.Content.Headers.ContentType?.MediaType);

        var unknown = await ops.TenantA.GetAsync($"/v1/interviews/{SessionIds.New()}/timeline");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);

        var malformed = await ops.TenantA.GetAsync("/v1/interviews/not-an-id/timeline");
        Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
        Assert.Equal("application/problem+json", malformed.Content.Headers.ContentType?.MediaType);

        var anonymous = await ops.Anonymous.GetAsync($"/v1/interviews/{id}/timeline");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
    }
}
