-- wrk script: 16 requests (or the first script argument) for the URL in each write, the
-- pipelining pattern of wrk's documentation. wrk counts every response as a request.
-- Usage: wrk -s bench/pipeline.lua URL [-- DEPTH]
local depth = 16

init = function(args)
    if args[1] then depth = tonumber(args[1]) end
    local reqs = {}
    for i = 1, depth do
        reqs[i] = wrk.format(nil)
    end
    batch = table.concat(reqs)
end

request = function()
    return batch
end
