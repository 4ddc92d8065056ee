using Microsoft.AspNetCore.Diagnostics;
using VoiceActors.Sessions;

namespace VoiceActors.Gateway.Errors;

/// <summary>Maps the grains' typed errors (and bad requests) to RFC 9457 problem details; nothing else leaks out.</summary>
public sealed class SessionExceptionHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        var (status, title, detail) = exception switch
        {
            SessionNotFoundException e => (StatusCodes.Status404NotFound, "Interview not found", e.Message),
            InvalidSessionTransitionException e => (StatusCodes.Status409Conflict, "Invalid state transition", e.Message),
            SessionAlreadyExistsException e => (StatusCodes.Status409Conflict, "Interview already exists", e.Message),
            SessionValidationException e => (StatusCodes.Status400BadRequest, "Invalid request", e.Message),
            BadHttpRequestException e => (e.StatusCode, "Bad request", e.Message),
            _ => (0, "", ""),
        };
        if (status == 0) return false;
        context.Response.StatusCode = status;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            Exception = exception,
            ProblemDetails = { Status = status, Title = title, Detail = detail },
        });
    }
}
