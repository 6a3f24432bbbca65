// A one-line script so that both adapter generations have something to answer in the tests.
module.exports = (robot) => {
  robot.respond(/ping$/i, (res) => res.send('PONG'))
}
