using System.Globalization;
using Microsoft.AspNetCore.Diagnostics;
using VoiceActors.Regions;

namespace VoiceActors.Gateway.Regions;

/// <summary>Maps region and capacity errors to problem details; a refusal for load says when to come back (Retry-After).</summary>
public sealed class RegionExceptionHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        var (status, title, retryAfter) = exception switch
        {
            RegionCapacityExceededException e => (StatusCodes.Status429TooManyRequests, "Region at capacity", e.RetryAfterSeconds),
            NoHealthyRegionException e => (StatusCodes.Status503ServiceUnavailable, "No healthy region", e.RetryAfterSeconds),
            UnknownRegionException => (StatusCodes.Status404NotFound, "Unknown region", 0),
            LastHealthyRegionException => (StatusCodes.Status409Conflict, "Last healthy region", 0),
            RegionValidationException => (StatusCodes.Status400BadRequest, "Invalid request", 0),
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
