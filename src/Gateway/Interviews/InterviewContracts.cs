using VoiceActors.LiveKit;
using System.Text.Json.Serialization;
using VoiceActors.Regions;
using VoiceActors.Sessions;

namespace VoiceActors.Gateway.Interviews;

/// <summary>The body of <c>POST /v1/interviews</c>.</summary>
public sealed record CreateInterviewRequest(
    string? CandidateId,
    string? JobId,
    string? CandidateName = null,
    string? Provider = null,
    ProviderOptionsDto? ProviderOptions = null,
    Dictionary<string, double>? RegionPings = null,
    RubricDto? Rubric = null,
    ConsentDto? Consent = null);

public sealed record ProviderOptionsDto(string? Model, string? Voice, string? Instructions, string? Secondary);

public sealed record ConsentDto(bool Recording = false, bool Transcription = false, bool AiEvaluation = false);

public sealed record RubricDto(List<RubricCriterionDto>? Criteria, int ScaleMax = 5);

public sealed record RubricCriterionDto(string? Name, string? Description, double Weight, List<string>? Keywords);

public sealed record LiveKitJoinInfo(string Url, string Room);

public sealed record CreateInterviewResponse(
    string SessionId,
    SessionStatus State,
    string Region,
    LiveKitJoinInfo Livekit,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? CandidateToken,
    string? RegionReason,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? CandidateUrl = null);

public sealed record ParticipantDto(string Identity, ParticipantRole Role, DateTimeOffset JoinedAt);

public sealed record InterviewResponse(
    string SessionId,
    SessionStatus State,
    string CandidateId,
    string JobId,
    string Region,
    string Room,
    IReadOnlyList<ParticipantDto> Participants,
    int Turns,
    ConsentFlags Consent,
    string Provider,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? EndedAt,
    string? EndReason,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] ReconnectDirective? Reconnect = null)
{
    public static InterviewResponse From(SessionSnapshot s) => new(
        s.SessionId, s.Status, s.CandidateId, s.JobId, s.Region, s.RoomName,
        s.Participants.Select(p => new ParticipantDto(p.Identity, p.Role, p.JoinedAt)).ToArray(),
        s.TurnCount, s.Consent, s.Provider.Name, s.CreatedAt, s.StartedAt, s.EndedAt, s.EndReason, s.Reconnect);
}
