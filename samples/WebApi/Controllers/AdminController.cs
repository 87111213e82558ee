using Bulkhead;
using Bulkhead.AspNetCore;
using Microsoft.AspNetCore.Mvc;

namespace WebApi.Controllers;

[ApiController]
[Route("admin")]
[WorkloadClass("admin")]
public sealed class AdminController(IWorkloadScheduler scheduler) : ControllerBase
{
    [HttpGet("classes")]
    public IEnumerable<string> Classes() => scheduler.GetSnapshot().Classes.Select(c => c.Name);

    [HttpPost("reindex")]
    [WorkloadClass("reporting")]
    public IActionResult Reindex() => Accepted();
}
