using VoiceActors.Gateway.Media;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using VoiceActors.Auth;
using VoiceActors.Regions;
using VoiceActors.Sessions;

namespace VoiceActors.Gateway.Interviews;

/// <summary>The <c>/v1/interviews</c> resource: backend services create, read and end interviews here.</summary>
public static class InterviewsApi
{
    /// <summary>Large enough for any rubric a human writes; small enough that a flood cannot pin memory.</summary>
    public const long MaxBodyBytes = 64 * 1024;

    public static RouteGroupBuilder MapInterviewsApi(this IEndpointRouteBuilder app)
    {
        var api = Group(app).WithMetadata(new RequestSizeLimitAttribute(MaxBodyBytes));

        api.MapPost("/", CreateInterview);
        api.MapGet("/{id}", GetInterview);
        api.MapPost("/{id}/complete", CompleteInterview);
        return api;
    }

    public static async Task<Results<Created<CreateInterviewResponse>, ValidationProblem, ProblemHttpResult>> CreateInterview(
        CreateInterviewRequest body, HttpContext http, IGrainFactory grains)
    {
        var errors = InterviewRequestValidator.Validate(body);
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors);

        var sessionId = SessionIds.New();
        var tenant = http.User.Tenant();
        var (admission, snapshot) = await grains.AdmitAndCreateAsync(sessionId, new AdmissionRequest(tenant, body.RegionPings),
            region => InterviewRequestValidator.ToCommand(body, tenant, region));
        if (snapshot.Status == SessionStatus.Failed) // the room could not be provisioned: the session exists, failed, with its reason
            return TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Interview room unavailable",
                detail: snapshot.EndReason, extensions: new Dictionary<string, object?> { ["sessionId"] = snapshot.SessionId });
        var response = new CreateInterviewResponse(
            snapshot.SessionId, snapshot.Status, snapshot.Region,
            new LiveKitJoinInfo(snapshot.LiveKitUrl ?? admission.LiveKitUrl ?? "", snapshot.RoomName), snapshot.CandidateToken, RegionReason: admission.Reason,
            CandidateUrl: snapshot.CandidateToken is { } token ? CandidatePage.UrlFor(http.Request, snapshot.SessionId, token) : null);
        return TypedResults.Created($"/v1/interviews/{sessionId}", response);
    }

    public static async Task<Results<Ok<InterviewResponse>, ProblemHttpResult>> GetInterview(
        string id, HttpContext http, IGrainFactory grains)
    {
        if (!SessionIds.IsValid(id)) return MalformedId(id);
        var snapshot = await grains.GetGrain<IInterviewSessionGrain>(id).Get(http.User.Tenant());
        return TypedResults.Ok(InterviewResponse.From(snapshot));
    }

    public static async Task<Results<Accepted<InterviewResponse>, ProblemHttpResult>> CompleteInterview(
        string id, HttpContext http, IGrainFactory grains)
    {
        if (!SessionIds.IsValid(id)) return MalformedId(id);
        var snapshot = await grains.GetGrain<IInterviewSessionGrain>(id).Complete(http.User.Tenant(), "completed by caller");
        return TypedResults.Accepted($"/v1/interviews/{id}", InterviewResponse.From(snapshot));
    }

    /// <summary>The <c>/v1/interviews</c> route group every interview endpoint (this file's and the recording's) is mapped on: API key required.</summary>
    internal static RouteGroupBuilder Group(IEndpointRouteBuilder app) => app.MapGroup("/v1/interviews").RequireAuthorization().WithTags("Interviews");

    internal static ProblemHttpResult MalformedId(string id) => TypedResults.Problem(
        statusCode: StatusCodes.Status400BadRequest,
        title: "Malformed interview id",
        detail: "Interview ids are 32 lowercase hex characters, as returned by POST /v1/interviews.");
}
