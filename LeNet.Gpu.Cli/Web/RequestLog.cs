using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace LeNet.Gpu.Cli.Web;

/// <summary>
/// One log line per failed request of <c>lenet serve</c>, never a stack trace: an answer with an error status is
/// logged with the error it carried; a request that fails while being read (a body that arrives too slowly, a
/// client that goes away) is logged by what happened, and answered with JSON where an answer can still be sent.
/// </summary>
public static class RequestLog
{
    private const string ErrorItem = "lenet.error";

    /// <summary>Remembers the error message an answer carries, for its log line.</summary>
    public static void Note(HttpContext context, string message) => context.Items[ErrorItem] = message;

    public static Func<HttpContext, RequestDelegate, Task> Middleware(ILogger log) => async (context, next) =>
    {
        string request = $"{context.Request.Method} {context.Request.Path}";
        try
        {
            await next(context);
        }
        catch (Exception e)
        {
            var (status, reason) = Describe(e, context);
            log.LogWarning("{Request} failed: {Reason}", request, reason);
            await TryAnswer(context, status, reason);
            return;
        }
        if (context.Response.StatusCode >= 400)
            log.LogWarning("{Request} {Status}: {Error}", request, context.Response.StatusCode,
                context.Items.TryGetValue(ErrorItem, out var error) ? error : "(no message)");
    };

    private static (int Status, string Reason) Describe(Exception e, HttpContext context) => e switch
    {
        BadHttpRequestException bad => (bad.StatusCode, OneLine(bad.Message)),
        _ when context.RequestAborted.IsCancellationRequested => (StatusCodes.Status400BadRequest, "the client closed the connection"),
        OperationCanceledException => (StatusCodes.Status400BadRequest, "the request was cancelled"),
        IOException io => (StatusCodes.Status400BadRequest, $"connection error: {OneLine(io.Message)}"),
        _ => (StatusCodes.Status500InternalServerError, $"unexpected {e.GetType().Name}: {OneLine(e.Message)}"),
    };

    /// <summary>A JSON error when nothing has been sent yet and the client is still there; else nothing.</summary>
    private static async Task TryAnswer(HttpContext context, int status, string reason)
    {
        if (context.Response.HasStarted || context.RequestAborted.IsCancellationRequested) return;
        try
        {
            context.Response.Clear();
            context.Response.StatusCode = status;
            context.Response.ContentType = "application/json; charset=utf-8";
            context.Response.Headers.Connection = "close";
            await context.Response.WriteAsync(System.Text.Json.JsonSerializer.Serialize(new { error = reason }));
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or InvalidOperationException)
        {
            // The connection is gone after all; the log line is all there is to say.
        }
    }

    private static string OneLine(string text) => text.ReplaceLineEndings(" ").Trim();
}

/// <summary>Console log entries as single lines, "lenet serve: level: message", exceptions as their type and message.</summary>
public sealed class OneLineLogFormatter() : ConsoleFormatter(Name)
{
    public new const string Name = "lenet-one-line";

    public override void Write<TState>(in LogEntry<TState> entry, IExternalScopeProvider? scopeProvider, TextWriter writer)
    {
        string message = entry.Formatter(entry.State, entry.Exception);
        if (entry.Exception is { } e) message += $" ({e.GetType().Name}: {e.Message})";
        string level = entry.LogLevel switch
        {
            LogLevel.Critical => "critical",
            LogLevel.Error => "error",
            LogLevel.Warning => "warning",
            _ => "info",
        };
        writer.WriteLine($"lenet serve: {level}: {message.ReplaceLineEndings(" ")}");
    }
}
