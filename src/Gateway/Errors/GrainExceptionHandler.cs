using System.Globalization;
using Microsoft.AspNetCore.Diagnostics;
using VoiceActors.Regions;
using VoiceActors.Sessions;

namespace VoiceActors.Gateway.Errors;

/// <summary>
/// The one table from the grains' typed errors (and bad requests) to RFC 9457 problem details; nothing else leaks out.
/// A refusal for load says when to come back (Retry-After).
/// </summary>
public sealed class GrainExceptionHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        var (status, title, retryAfter) = exception switch
        {
            SessionNotFoundException => (StatusCodes.Status404NotFound, "Interview not found", 0),
            InvalidSessionTransitionException => (StatusCodes.Status409Conflict, "Invalid state transition", 0),
            SessionAlreadyExistsException => (StatusCodes.Status409Conflict, "Interview already exists", 0),
            RegionCapacityExceededException e => (StatusCodes.Status429TooManyRequests, "Region at capacity", e.RetryAfterSeconds),
            NoHealthyRegionException e => (StatusCodes.Status503ServiceUnavailable, "No healthy region", e.RetryAfterSeconds),
            UnknownRegionException => (StatusCodes.Status404NotFound, "Unknown region", 0),
            LastHealthyRegionException => (StatusCodes.Status409Conflict, "Last healthy region", 0),
            RequestValidationException => (StatusCodes.Status400BadRequest, "Invalid request", 0),
            BadHttpRequestException e => (e.StatusCode, "Bad request", 0),
            _ => (0, "", 0),
        };
        if (status == 0) return false;
        context.Response.StatusCode = status;
        if (retryAfter > 0) context.Response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
        var details = new ProblemDetailsContext
        {
            HttpContext = context,
            Exception = exception,
            ProblemDetails = { Status = status, Title = title, Detail = exception.Message },
        };
        if (exception is RegionException { Region.Length: > 0 } r) details.ProblemDetails.Extensions["region"] = r.Region;
        return await problems.TryWriteAsync(details);
    }
}
