using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VoiceActors.LiveKit;
using VoiceActors.Media.Bridge;

namespace VoiceActors.Sessions;

/// <summary>
/// A session's LiveKit room: provisioned on create (and again in another region on failover), deleted at the end, and the tokens
/// that let people in. It talks to LiveKit and reports what happened; the session decides what that means for the interview.
/// </summary>
internal sealed partial class SessionRoom(string sessionId, LiveKitDirectory livekit, ILogger logger)
{
    /// <summary>What creating the room gave: the room, or why LiveKit did not make it.</summary>
    internal abstract record Provisioning;

    internal sealed record Provisioned(string Name, string Sid, string PublicUrl) : Provisioning;

    internal sealed record Refused(string Reason, string Error) : Provisioning;

    /// <summary>Whether LiveKit already closed the room (its <c>room_finished</c> webhook): nothing left to delete.</summary>
    public bool Finished { get; private set; }

    public void MarkFinished() => Finished = true;

    /// <summary>Creates the room on <paramref name="region"/>'s LiveKit within <see cref="LiveKitOptions.ProvisionTimeout"/>.</summary>
    public async Task<Provisioning> ProvisionAsync(string region, string roomName)
    {
        try
        {
            var regional = livekit.For(region);
            using var bound = new CancellationTokenSource(regional.Options.ProvisionTimeout); // real time: it bounds network calls
            var metadata = JsonSerializer.Serialize(new { sessionId, region });
            var room = await regional.Rooms.CreateRoomAsync(
                new CreateRoomOptions(roomName, regional.Options.RoomEmptyTimeoutSeconds, regional.Options.RoomMaxParticipants, metadata), bound.Token);
            return new Provisioned(room.Name, room.Sid, regional.PublicUrl);
        }
        catch (Exception e) when (IsLiveKitFailure(e))
        {
            LogProvisionFailed(region, e.GetType().Name, e.Message);
            return new Refused(e is OperationCanceledException ? "LiveKit did not create the room in time" : $"LiveKit room not created: {e.Message}",
                e.GetType().Name);
        }
    }

    /// <summary>Best effort, bounded: LiveKit's own empty timeout closes a room we could not delete. Returns the error, if any.</summary>
    public async Task<string?> DeleteAsync(string region, string roomName, string? roomSid)
    {
        if (roomSid is null || Finished) return null;
        try
        {
            var regional = livekit.For(region);
            using var bound = new CancellationTokenSource(regional.Options.ProvisionTimeout);
            await regional.Rooms.DeleteRoomAsync(roomName, bound.Token);
            return null;
        }
        catch (Exception e) when (IsLiveKitFailure(e))
        {
            LogRoomDeleteFailed(roomName, e.GetType().Name, e.Message);
            return e.GetType().Name;
        }
    }

    public string CandidateToken(string region, string roomName, string candidateId, string? candidateName, TimeSpan ttl) =>
        livekit.For(region).Tokens.ForParticipant(roomName, LiveKitIdentities.Candidate(candidateId), ParticipantRole.Candidate, ttl,
            name: candidateName, metadata: JsonSerializer.Serialize(new { sessionId }));

    /// <summary>A subscribe-only, hidden observer's join; the TTL is capped at what LiveKit tokens allow.</summary>
    /// <summary>How the agent joins: null where the region's LiveKit carries no media (the stand-in without its SFU).</summary>
    public AgentJoin? AgentJoin(string region, string roomName, string identity, string candidateIdentity, TimeSpan ttl)
    {
        var regional = livekit.For(region);
        if (!regional.HasMedia) return null;
        if (ttl > LiveKitTokens.MaxTtl) ttl = LiveKitTokens.MaxTtl;
        var tokens = regional.Tokens;
        var expires = tokens.Now + ttl;
        // Every re-join (a bridge restart) mints anew, valid until the session's own end, never reusing an expired token.
        string Mint() => tokens.ForParticipant(roomName, identity, ParticipantRole.Agent, Clamp(expires - tokens.Now));
        return new AgentJoin(regional.PublicUrl, Mint(), identity, candidateIdentity, Mint);
    }

    /// <summary>A re-join after the session's planned end still gets a short-lived token: the session decides when it ends.</summary>
    private static TimeSpan Clamp(TimeSpan ttl) => ttl < MinAgentTtl ? MinAgentTtl : ttl > LiveKitTokens.MaxTtl ? LiveKitTokens.MaxTtl : ttl;

    private static readonly TimeSpan MinAgentTtl = TimeSpan.FromMinutes(5);

    public LiveKitJoin ObserverJoin(string region, string roomName, string? roomUrl, string observerId, TimeSpan ttl, DateTimeOffset now)
    {
        var regional = livekit.For(region);
        if (ttl > LiveKitTokens.MaxTtl) ttl = LiveKitTokens.MaxTtl;
        var identity = LiveKitIdentities.Observer(observerId);
        var token = regional.Tokens.ForParticipant(roomName, identity, ParticipantRole.Observer, ttl);
        var expires = DateTimeOffset.FromUnixTimeSeconds(now.ToUnixTimeSeconds() + (long)Math.Ceiling(ttl.TotalSeconds));
        return new LiveKitJoin(roomUrl ?? regional.PublicUrl, roomName, identity, ParticipantRole.Observer, token, expires);
    }

    private static bool IsLiveKitFailure(Exception e) =>
        e is LiveKitException or OperationCanceledException or InvalidOperationException or OptionsValidationException;

    [LoggerMessage(Level = LogLevel.Warning, Message = "LiveKit room for region {Region} not provisioned ({Error}): {Message}")]
    private partial void LogProvisionFailed(string region, string error, string message);

    [LoggerMessage(Level = LogLevel.Warning, Message = "LiveKit room {Room} not deleted ({Error}): {Message}")]
    private partial void LogRoomDeleteFailed(string room, string error, string message);
}
