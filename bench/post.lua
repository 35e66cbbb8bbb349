-- wrk script for the HTTP limit: POST a ~600-byte webhook payload (the
-- shape hookbridge sends, SPEC section 3) with hookbridge's headers.
-- bench/run.sh: wrk -t2 -c<delivery.concurrency> -s bench/post.lua URL
wrk.method = "POST"
wrk.body = '{"type":"nps.feedback","timestamp":1764200000,' ..
        '"app_token":"NX-demo0001","data":{"action":"feedback",' ..
        '"survey_question":"How likely is it that you would recommend us ' ..
        'to a friend?","score":10,"follow_up_question":"Why did you ' ..
        'choose this score?","feedback":"Great product, the onboarding ' ..
        'flows saved our team hours","hostname":"app.example.com",' ..
        '"pathname":"/dashboard","user":{"user_id":"123456","name":' ..
        '"Ada Lovelace","email":"ada@example.com","plan":"pro","seats":12,' ..
        '"beta":true,"role":"admin","locale":"en-GB"},"company":{"id":"42","name":"Analytical Engines",' ..
        '"industry":"SaaS","employees":45}}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["User-Agent"] = "hookbridge/0.1.0"
wrk.headers["webhook-id"] = "3f2a9c1e-5b7d-4e2a-9c1f-0a1b2c3d4e5f"
wrk.headers["webhook-timestamp"] = "1764200000"
wrk.headers["webhook-signature"] =
        "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="

-- wrk itself prints "Non-2xx or 3xx responses: N" when there are any;
-- run.sh checks for it. The body size goes into the results.
done = function(summary, latency, requests)
        io.write(string.format("body_bytes %d\n", #wrk.body))
end
